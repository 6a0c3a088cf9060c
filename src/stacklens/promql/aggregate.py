"""PromQL aggregations over an instant vector, per step and group."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from stacklens.promql.model import UnsupportedError, labels_key
from stacklens.promql.values import Vector, VectorSeries

__all__ = ["AGGREGATIONS", "aggregate"]

Floats = npt.NDArray[np.float64]
AGGREGATIONS: Final = frozenset(
    {
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
    }
)


def group_labels(
    labels: dict[str, str], by: Sequence[str] | None, without: Sequence[str] | None
) -> dict[str, str]:
    if by is not None:
        return {k: labels[k] for k in by if labels.get(k, "") != ""}
    drop = {"__name__", *(without or ())}
    return {k: v for k, v in labels.items() if k not in drop}


def aggregate(
    op: str,
    vector: Vector,
    n_steps: int,
    *,
    by: Sequence[str] | None = None,
    without: Sequence[str] | None = None,
    param: Floats | None = None,
) -> Vector:
    if op not in AGGREGATIONS:
        raise UnsupportedError(f"aggregation {op!r} is not supported")
    groups: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[VectorSeries]]] = {}
    for s in vector.series:
        labels = group_labels(s.labels, by, without)
        groups.setdefault(labels_key(labels), (labels, []))[1].append(s)
    out: list[VectorSeries] = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for labels, members in groups.values():
            matrix = np.vstack([m.values for m in members])
            present = ~np.isnan(matrix)
            any_present = present.any(axis=0)
            if op in ("topk", "bottomk"):
                assert param is not None
                out += _top(op, members, matrix, param)
                continue
            if op == "quantile":
                assert param is not None
                value = _quantile(matrix, param)
            else:
                value = _reduce(op, matrix, present, n_steps)
            out.append(VectorSeries(dict(labels), np.where(any_present, value, np.nan)))
    return Vector(out)


def _reduce(op: str, matrix: Floats, present: npt.NDArray[np.bool_], n_steps: int) -> Any:
    if op == "sum":
        return np.nansum(matrix, axis=0)
    if op == "avg":
        return np.nanmean(matrix, axis=0)
    if op == "min":
        return np.nanmin(matrix, axis=0)
    if op == "max":
        return np.nanmax(matrix, axis=0)
    if op == "count":
        return present.sum(axis=0).astype(np.float64)
    if op == "group":
        return np.ones(n_steps)
    if op == "stddev":
        return np.nanstd(matrix, axis=0)
    return np.nanvar(matrix, axis=0)


def _quantile(matrix: Floats, param: Floats) -> Floats:
    out = np.full(matrix.shape[1], np.nan)
    for q in np.unique(param[~np.isnan(param)]):
        cols = param == q
        if q < 0:
            out[cols] = -np.inf
        elif q > 1:
            out[cols] = np.inf
        else:
            out[cols] = np.nanquantile(matrix[:, cols], q, axis=0)
    return out


def _top(op: str, members: list[VectorSeries], matrix: Floats, param: Floats) -> list[VectorSeries]:
    fill = -np.inf if op == "topk" else np.inf
    filled = np.where(np.isnan(matrix), fill, matrix)
    order = np.argsort(-filled if op == "topk" else filled, axis=0, kind="stable")
    rank = np.empty_like(order)
    rows = np.arange(matrix.shape[0])[:, None]
    rank[order, np.arange(matrix.shape[1])[None, :]] = rows
    k = np.nan_to_num(param, nan=0.0).astype(np.int64)
    keep = (rank < k[None, :]) & ~np.isnan(matrix)
    return [
        VectorSeries(dict(member.labels), np.where(keep[i], matrix[i], np.nan))
        for i, member in enumerate(members)
        if keep[i].any()
    ]
