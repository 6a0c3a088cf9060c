"""PromQL binary operators: arithmetic, comparisons (filter or ``bool``) and set
operators, between scalars and vectors, with ``on``/``ignoring`` and
``group_left``/``group_right`` vector matching, evaluated per step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from stacklens.promql.model import PromQLError, UnsupportedError
from stacklens.promql.values import Scalar, Vector, VectorSeries

__all__ = ["COMPARISONS", "Matching", "binary"]

Floats = npt.NDArray[np.float64]
ARITHMETIC: Final[dict[str, Callable[[Floats, Floats], Floats]]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,
    "^": np.power,
    "atan2": np.arctan2,
}
COMPARISONS: Final[dict[str, Callable[[Floats, Floats], npt.NDArray[np.bool_]]]] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}
SET_OPS: Final = frozenset({"and", "or", "unless"})


@dataclass(frozen=True)
class Matching:
    """``on(labels)`` (``on=True``) or ``ignoring(labels)``; the cardinality and the
    ``group_left``/``group_right`` labels copied from the "one" side."""

    on: bool = False
    labels: tuple[str, ...] = ()
    card: str = "one-to-one"  # one-to-one | many-to-one | one-to-many | many-to-many
    include: tuple[str, ...] = ()
    bool_: bool = False


def _drop_name(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _apply(op: str, lhs: Floats, rhs: Floats, bool_: bool) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """``(value, keep)`` per step; both sides present is the caller's mask."""
    with np.errstate(all="ignore"):
        if op in ARITHMETIC:
            value = ARITHMETIC[op](lhs, rhs)
            return value, np.ones(value.shape, dtype=bool)
        if op in COMPARISONS:
            hit = COMPARISONS[op](lhs, rhs)
            if bool_:
                return hit.astype(np.float64), np.ones(hit.shape, dtype=bool)
            return lhs, hit
    raise UnsupportedError(f"binary operator {op!r} is not supported")


def binary(
    op: str,
    lhs: Scalar | Vector,
    rhs: Scalar | Vector,
    matching: Matching,
    n_steps: int,
) -> Scalar | Vector:
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        if op in SET_OPS:
            raise PromQLError(f"set operator {op!r} not allowed between scalars")
        value, _ = _apply(op, lhs.values, rhs.values, True)
        return Scalar(value)
    if isinstance(lhs, Vector) and isinstance(rhs, Vector):
        if op in SET_OPS:
            return _set_op(op, lhs, rhs, matching)
        return _vector_vector(op, lhs, rhs, matching)
    if op in SET_OPS:
        raise PromQLError(f"set operator {op!r} not allowed in binary scalar expression")
    out = []
    drop = op in ARITHMETIC or matching.bool_
    vector = lhs if isinstance(lhs, Vector) else rhs
    assert isinstance(vector, Vector)
    for s in vector.series:
        left = lhs.values if isinstance(lhs, Scalar) else s.values
        right = rhs.values if isinstance(rhs, Scalar) else s.values
        value, keep = _apply(op, left, right, matching.bool_)
        if op in COMPARISONS and not matching.bool_:
            value = s.values  # a filter keeps the vector's own sample
        value = np.where(keep & ~np.isnan(s.values), value, np.nan)
        if not np.isnan(value).all():
            out.append(VectorSeries(_drop_name(s.labels) if drop else dict(s.labels), value))
    return Vector(out)


def _signature(labels: dict[str, str], m: Matching) -> tuple[tuple[str, str], ...]:
    if m.on:
        return tuple((k, labels.get(k, "")) for k in sorted(m.labels))
    drop = {"__name__", *m.labels}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in drop))


def _set_op(op: str, lhs: Vector, rhs: Vector, m: Matching) -> Vector:
    n = len(lhs.series[0].values) if lhs.series else len(rhs.series[0].values) if rhs.series else 0
    present: dict[tuple[tuple[str, str], ...], npt.NDArray[np.bool_]] = {}
    for s in rhs.series:
        sig = _signature(s.labels, m)
        present[sig] = present.get(sig, np.zeros(n, dtype=bool)) | ~np.isnan(s.values)
    out: list[VectorSeries] = []
    if op in ("and", "unless"):
        for s in lhs.series:
            hit = present.get(_signature(s.labels, m), np.zeros(n, dtype=bool))
            keep = hit if op == "and" else ~hit
            value = np.where(keep, s.values, np.nan)
            if not np.isnan(value).all():
                out.append(VectorSeries(dict(s.labels), value))
        return Vector(out)
    left: dict[tuple[tuple[str, str], ...], npt.NDArray[np.bool_]] = {}
    for s in lhs.series:
        sig = _signature(s.labels, m)
        left[sig] = left.get(sig, np.zeros(n, dtype=bool)) | ~np.isnan(s.values)
        out.append(VectorSeries(dict(s.labels), s.values))
    for s in rhs.series:
        value = np.where(
            left.get(_signature(s.labels, m), np.zeros(n, dtype=bool)), np.nan, s.values
        )
        if not np.isnan(value).all():
            out.append(VectorSeries(dict(s.labels), value))
    return Vector(out)


def _one_side(
    series: Sequence[VectorSeries], m: Matching, side: str
) -> dict[tuple[tuple[str, str], ...], list[VectorSeries]]:
    groups: dict[tuple[tuple[str, str], ...], list[VectorSeries]] = {}
    for s in series:
        groups.setdefault(_signature(s.labels, m), []).append(s)
    for members in groups.values():
        if len(members) > 1:
            count = np.sum([~np.isnan(s.values) for s in members], axis=0)
            if (count > 1).any():
                raise PromQLError(
                    f"found duplicate series for the match group on the {side} hand-side "
                    "of the operation: many-to-many matching not allowed: matching labels "
                    "must be unique on one side"
                )
    return groups


def _merged(members: list[VectorSeries]) -> tuple[Floats, list[VectorSeries]]:
    value = members[0].values.copy()
    for s in members[1:]:
        value = np.where(np.isnan(value), s.values, value)
    return value, members


def _vector_vector(op: str, lhs: Vector, rhs: Vector, m: Matching) -> Vector:
    many, one = (rhs, lhs) if m.card == "one-to-many" else (lhs, rhs)
    one_groups = _one_side(one.series, m, "right" if many is lhs else "left")
    if m.card == "one-to-one":
        _one_side(many.series, m, "left")
    drop = op in ARITHMETIC or m.bool_
    out: dict[tuple[tuple[str, str], ...], VectorSeries] = {}
    for s in many.series:
        group = one_groups.get(_signature(s.labels, m))
        if group is None:
            continue
        other, members = _merged(group)
        left, right = (other, s.values) if many is rhs else (s.values, other)
        value, keep = _apply(op, left, right, m.bool_)
        value = np.where(keep & ~np.isnan(left) & ~np.isnan(right), value, np.nan)
        if np.isnan(value).all():
            continue
        labels = _drop_name(s.labels) if drop else dict(s.labels)
        if m.card == "one-to-one":
            if m.on:
                labels = {k: v for k, v in labels.items() if k in m.labels}
            else:
                labels = {k: v for k, v in labels.items() if k not in m.labels}
        for name in m.include:
            copied = next((g.labels.get(name, "") for g in members if g.labels.get(name)), "")
            if copied:
                labels[name] = copied
            else:
                labels.pop(name, None)
        key = tuple(sorted(labels.items()))
        if key in out:
            both = ~np.isnan(out[key].values) & ~np.isnan(value)
            if both.any():
                raise PromQLError(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                )
            out[key].values = np.where(np.isnan(value), out[key].values, value)
        else:
            out[key] = VectorSeries(labels, value)
    return Vector(list(out.values()))
