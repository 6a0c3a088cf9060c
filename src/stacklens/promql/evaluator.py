"""Evaluate a parsed PromQL expression at every step of a query.

Selectors are resolved against the :class:`~stacklens.promql.model.SeriesSource`
list (each source's names filtered by the ``__name__`` matchers, then its samples read
in SQL over the window the selector needs); everything else is numpy over those
samples. Anything outside the supported subset raises
:class:`~stacklens.promql.model.UnsupportedError` naming it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import promql_parser as pp

from stacklens.promql.aggregate import AGGREGATIONS, aggregate
from stacklens.promql.binary import Matching, binary
from stacklens.promql.instant_functions import MATH, histogram_quantile
from stacklens.promql.model import (
    LOOKBACK_MS,
    LimitError,
    Limits,
    Matcher,
    PromQLError,
    Series,
    SeriesSource,
    UnsupportedError,
    names_matching,
)
from stacklens.promql.range_functions import (
    EXTRAPOLATED,
    RANGE_FUNCTIONS,
    Windows,
    extrapolated_rows,
)
from stacklens.promql.values import Matrix, Scalar, String, Value, Vector, VectorSeries

__all__ = ["Evaluator", "parse", "query_selectors", "selector_matchers"]

Ints = npt.NDArray[np.int64]
_OPS: Final = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}
#: functions whose result keeps the metric name
_KEEP_NAME: Final = frozenset({"last_over_time"})


def parse(query: str, limits: Limits) -> Any:
    if len(query) > limits.max_query_chars:
        raise LimitError(
            f"the query is longer than {limits.max_query_chars} characters (max_query_chars)"
        )
    if not query.strip():
        raise PromQLError("empty query")
    try:
        return pp.parse(query)
    except (ValueError, TypeError) as exc:
        raise PromQLError(f"parse error: {exc}") from None


def _ms(delta: dt.timedelta | None) -> int:
    return 0 if delta is None else int(delta.total_seconds() * 1000)


def selector_matchers(vs: Any) -> list[Matcher]:
    """The matchers of a vector selector, its name as ``__name__="..."``."""
    out: list[Matcher] = []
    if vs.name:
        out.append(Matcher.make("__name__", "=", vs.name))
    if vs.matchers.or_matchers:
        raise UnsupportedError("'or' between label matchers is not supported")
    for m in vs.matchers.matchers:
        op = _OPS[str(m.op).rpartition(".")[2].split("(")[0]]
        out.append(Matcher.make(m.name, op, m.value))  # type: ignore[arg-type]
    if not any(not m.matches("") for m in out):
        raise PromQLError("vector selector must contain at least one non-empty matcher")
    return out


def query_selectors(node: Any) -> list[list[Matcher]]:
    """The matchers of every vector selector in ``node`` (what a query will read,
    told to the sources before it runs). A selector the evaluator will refuse is left
    out: evaluating it raises the error."""
    kind = type(node).__name__
    if kind == "VectorSelector":
        try:
            return [selector_matchers(node)]
        except PromQLError:
            return []
    children: list[Any] = []
    if kind in ("ParenExpr", "UnaryExpr", "SubqueryExpr"):
        children = [node.expr]
    elif kind == "BinaryExpr":
        children = [node.lhs, node.rhs]
    elif kind == "AggregateExpr":
        children = [node.expr, node.param]
    elif kind == "Call":
        children = list(node.args)
    elif kind == "MatrixSelector":
        children = [node.vector_selector]
    return [m for child in children if child is not None for m in query_selectors(child)]


class Evaluator:
    """One query: ``steps`` (epoch ms) at which to evaluate, the reader's ``stacks``."""

    def __init__(
        self,
        sources: Sequence[SeriesSource],
        steps: Ints,
        stacks: tuple[str, ...] | None,
        limits: Limits,
        lookback_ms: int = LOOKBACK_MS,
        spacing_ms: int | None = None,
    ) -> None:
        self.sources = sources
        #: the query reads only samples at multiples of this (stacklens.promql.spacing)
        self.spacing_ms = spacing_ms
        # A rule repeats subexpressions (``a / (a > 0)``, ``x or a * 0``): each distinct
        # one (by its canonical text) is evaluated once per query.
        self._done: dict[str, Vector] = {}
        self.steps = steps
        self.n = len(steps)
        self.stacks = stacks
        self.limits = limits
        self.lookback_ms = lookback_ms
        self.samples_loaded = 0

    # ---- selectors ------------------------------------------------------------
    def _names(self, source: SeriesSource, matchers: Sequence[Matcher]) -> list[str]:
        return names_matching(source.names(self.stacks), matchers)

    def select(self, vs: Any, range_ms: int) -> tuple[list[Series], int]:
        if vs.at is not None:
            raise UnsupportedError("the @ modifier is not supported")
        offset = _ms(vs.offset)
        matchers = selector_matchers(vs)
        start = int(self.steps[0]) - offset - range_ms
        end = int(self.steps[-1]) - offset
        if (end - start) > self.limits.max_range_s * 1000:
            raise LimitError(
                f"the query spans more than {self.limits.max_range_s // 86400} days (max_range_s)"
            )
        # nothing is stored before 1970: a window reaching back past it starts there
        start, end = max(start, 0), max(end, 0)
        others = [m for m in matchers if m.name != "__name__"]
        found: list[Series] = []
        for source in self.sources:
            names = self._names(source, matchers)
            if names:
                found += source.samples(
                    names, self.stacks, others, start, end, self.limits, spacing_ms=self.spacing_ms
                )
        if len(found) > self.limits.max_series:
            raise LimitError(
                f"a selector matches more than {self.limits.max_series} series (max_series)"
            )
        self.samples_loaded += sum(len(s.ts) for s in found)
        if self.samples_loaded > self.limits.max_samples:
            raise LimitError(
                f"the query loads more than {self.limits.max_samples} samples (max_samples)"
            )
        return found, offset

    def instant_selector(self, vs: Any) -> Vector:
        series, offset = self.select(vs, self.lookback_ms)
        at = self.steps - offset
        out = []
        for s in series:
            idx = np.searchsorted(s.ts, at, side="right") - 1
            ok = idx >= 0
            safe = np.maximum(idx, 0)
            ok &= s.ts[safe] >= at - self.lookback_ms if len(s.ts) else ok & False
            values = np.where(ok, s.values[safe] if len(s.ts) else np.nan, np.nan)
            if not np.isnan(values).all():
                out.append(VectorSeries(dict(s.labels), values))
        return Vector(out)

    # ---- expressions ----------------------------------------------------------
    def eval(self, e: Any) -> Value:
        kind = type(e).__name__
        method = getattr(self, f"_eval_{kind}", None)
        if method is None:
            raise UnsupportedError(f"{kind} expressions are not supported")
        key = str(e) if kind in ("AggregateExpr", "Call") else None
        if key is not None and key in self._done:
            return _copy(self._done[key])
        result: Value = method(e)
        if key is not None and isinstance(result, Vector):
            self._done[key] = result
            return _copy(result)
        return result

    def _eval_NumberLiteral(self, e: Any) -> Value:
        return Scalar(np.full(self.n, float(e.val)))

    def _eval_StringLiteral(self, e: Any) -> Value:
        return String(str(e.val))

    def _eval_ParenExpr(self, e: Any) -> Value:
        return self.eval(e.expr)

    def _eval_VectorSelector(self, e: Any) -> Value:
        return self.instant_selector(e)

    def _eval_MatrixSelector(self, e: Any) -> Value:
        series, offset = self.select(e.vector_selector, _ms(e.range))
        return Matrix(series, _ms(e.range), offset)

    def _eval_SubqueryExpr(self, e: Any) -> Value:
        raise UnsupportedError("subqueries are not supported")

    def _eval_UnaryExpr(self, e: Any) -> Value:
        value = self.eval(e.expr)
        if isinstance(value, Scalar):
            return Scalar(-value.values)
        if isinstance(value, Vector):
            return Vector(
                [
                    VectorSeries({k: v for k, v in s.labels.items() if k != "__name__"}, -s.values)
                    for s in value.series
                ]
            )
        raise PromQLError("unary minus needs a scalar or an instant vector")

    def _eval_BinaryExpr(self, e: Any) -> Value:
        op = str(e.op)
        lhs, rhs = self.eval(e.lhs), self.eval(e.rhs)
        if not isinstance(lhs, Scalar | Vector) or not isinstance(rhs, Scalar | Vector):
            raise PromQLError(f"operator {op!r} needs scalars or instant vectors")
        return binary(op, lhs, rhs, _matching(e.modifier), self.n)

    def _eval_AggregateExpr(self, e: Any) -> Value:
        op = str(e.op)
        if op not in AGGREGATIONS:
            raise UnsupportedError(f"aggregation {op!r} is not supported")
        vector = self._vector(self.eval(e.expr), op)
        by: list[str] | None = None
        without: list[str] | None = None
        if e.modifier is not None:
            labels = list(e.modifier.labels)
            if str(e.modifier.type).endswith("By"):
                by = labels
            else:
                without = labels
        elif op not in ("topk", "bottomk"):
            by = []
        param = None
        if op in ("topk", "bottomk", "quantile"):
            value = self.eval(e.param)
            if not isinstance(value, Scalar):
                raise PromQLError(f"{op} needs a scalar parameter")
            param = value.values
        if op in ("topk", "bottomk") and by is None and without is None:
            by = []
        return aggregate(op, vector, self.n, by=by, without=without, param=param)

    def _vector(self, value: Value, where: str) -> Vector:
        if not isinstance(value, Vector):
            raise PromQLError(f"{where}: expected an instant vector")
        return value

    def _scalar(self, value: Value, where: str) -> Scalar:
        if not isinstance(value, Scalar):
            raise PromQLError(f"{where}: expected a scalar")
        return value

    def _eval_Call(self, e: Any) -> Value:
        name = e.func.name
        args = list(e.args)
        if name in RANGE_FUNCTIONS or name == "quantile_over_time":
            return self._range_call(name, args)
        if name in MATH:
            vector = self._vector(self.eval(args[0]), name)
            return _map(vector, MATH[name])
        if name in ("clamp_min", "clamp_max", "clamp"):
            vector = self._vector(self.eval(args[0]), name)
            bounds = [self._scalar(self.eval(a), name).values for a in args[1:]]
            if name == "clamp_min":
                return _map(vector, lambda v: np.maximum(v, bounds[0]))
            if name == "clamp_max":
                return _map(vector, lambda v: np.minimum(v, bounds[0]))
            return _map(
                vector,
                lambda v: np.where(bounds[0] > bounds[1], np.nan, np.clip(v, bounds[0], bounds[1])),
            )
        if name == "round":
            vector = self._vector(self.eval(args[0]), name)
            to = self._scalar(self.eval(args[1]), name).values if len(args) > 1 else np.ones(self.n)
            return _map(vector, lambda v: np.floor(v / to + 0.5) * to)
        if name == "histogram_quantile":
            q = self._scalar(self.eval(args[0]), name).values
            return histogram_quantile(q, self._vector(self.eval(args[1]), name), self.n)
        if name == "vector":
            return Vector([VectorSeries({}, self._scalar(self.eval(args[0]), name).values)])
        if name == "scalar":
            vector = self._vector(self.eval(args[0]), name)
            if not vector.series:
                return Scalar(np.full(self.n, np.nan))
            stacked = np.vstack([s.values for s in vector.series])
            count = (~np.isnan(stacked)).sum(axis=0)
            return Scalar(
                np.where(
                    count == 1,
                    np.nanmax(np.where(np.isnan(stacked), -np.inf, stacked), axis=0),
                    np.nan,
                )
            )
        if name == "time":
            return Scalar(self.steps / 1000.0)
        if name == "absent":
            vector = self._vector(self.eval(args[0]), name)
            present = np.zeros(self.n, dtype=bool)
            for s in vector.series:
                present |= ~np.isnan(s.values)
            labels = {}
            if type(args[0]).__name__ == "VectorSelector":
                labels = {
                    m.name: m.value
                    for m in selector_matchers(args[0])
                    if m.op == "=" and m.name != "__name__"
                }
            values = np.where(present, np.nan, 1.0)
            return Vector([VectorSeries(labels, values)] if not np.isnan(values).all() else [])
        raise UnsupportedError(f"function {name}() is not supported")

    def _range_call(self, name: str, args: list[Any]) -> Value:
        param: float | None = None
        if name == "quantile_over_time":
            q = self._scalar(self.eval(args[0]), name).values
            param = float(q[0])
            args = args[1:]
        matrix = self.eval(args[0])
        if not isinstance(matrix, Matrix):
            raise PromQLError(f"{name}() expects a range vector")
        at = self.steps - matrix.offset_ms
        windows = Windows(at, matrix.range_ms)
        batched = _extrapolated_by_axis(name, matrix.series, windows)
        out = []
        for i, s in enumerate(matrix.series):
            if batched is not None:
                values = batched[i]
            elif param is not None:
                values = _quantile_over_time(s, at, matrix.range_ms, param)
            else:
                values = RANGE_FUNCTIONS[name](s, windows)
            if not np.isnan(values).all():
                labels = (
                    dict(s.labels)
                    if name in _KEEP_NAME
                    else {k: v for k, v in s.labels.items() if k != "__name__"}
                )
                out.append(VectorSeries(labels, values))
        return Vector(out)


def _extrapolated_by_axis(
    name: str, series: Sequence[Series], windows: Windows
) -> list[Any] | None:
    """``rate``/``increase``/``delta`` of every series, evaluated together per shared
    time axis (the hub's series of one family share its grid): one set of array
    operations for a few hundred series instead of one each. ``None`` for any other
    function."""
    if name not in EXTRAPOLATED:
        return None
    counter, rate = EXTRAPOLATED[name]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, s in enumerate(series):
        groups.setdefault((int(s.ts.ctypes.data), len(s.ts)), []).append(i)
    out: list[Any] = [None] * len(series)
    for members in groups.values():
        ts = series[members[0]].ts
        rows = np.vstack([series[i].values for i in members])
        values = extrapolated_rows(rows, ts, windows, counter=counter, rate=rate)
        for row, i in enumerate(members):
            out[i] = values[row]
    return out


def _quantile_over_time(s: Series, steps: Ints, range_ms: int, q: float) -> Any:
    lo = np.searchsorted(s.ts, steps - range_ms, side="left")
    hi = np.searchsorted(s.ts, steps, side="right")
    out = np.full(len(steps), np.nan)
    for i, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
        if b > a:
            out[i] = -np.inf if q < 0 else np.inf if q > 1 else np.quantile(s.values[a:b], q)
    return out


def _copy(vector: Vector) -> Vector:
    """New series objects over the same (never modified) value arrays."""
    return Vector([VectorSeries(dict(s.labels), s.values) for s in vector.series])


def _map(vector: Vector, f: Any) -> Vector:
    with np.errstate(all="ignore"):
        return Vector(
            [
                VectorSeries({k: v for k, v in s.labels.items() if k != "__name__"}, f(s.values))
                for s in vector.series
            ]
        )


def _matching(modifier: Any) -> Matching:
    if modifier is None:
        return Matching()
    card = str(modifier.card).rpartition(".")[2]
    cards = {
        "OneToOne": "one-to-one",
        "ManyToOne": "many-to-one",
        "OneToMany": "one-to-many",
        "ManyToMany": "many-to-many",
    }
    on, labels = False, ()
    if modifier.matching is not None:
        on = str(modifier.matching.type).endswith("Include")
        labels = tuple(modifier.matching.labels)
    return Matching(
        on=on,
        labels=labels,
        card=cards.get(card, "one-to-one"),
        include=tuple(modifier.group_labels or ()),
        bool_=bool(modifier.return_bool),
    )
