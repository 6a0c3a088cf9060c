"""Stored OTel metric points (``metric_points``) as PromQL series.

Mapping (documented in the README):

* the metric name, ``.``/``-``/other characters outside ``[a-zA-Z0-9_:]`` turned
  into ``_`` (no unit or ``_total`` suffix is added: a remote-written sample keeps its
  ``__name__``), is the series name for ``gauge`` and ``sum`` points; a ``histogram``
  is ``<name>_bucket{le}`` (cumulative, ``+Inf`` last), ``<name>_sum`` and
  ``<name>_count``; ``summary`` and ``exp_histogram`` give ``_sum`` and ``_count``;
* labels are the point's attributes (keys sanitized like names), ``stack_name`` (the
  point's stack, overriding any attribute of that name: stack isolation rests on it)
  and ``service_name`` from the resource's service when no attribute has it;
* a ``delta`` sum or histogram is accumulated per series into a cumulative one;
* a name that is one of the hub's own families is left to the hub (not served here).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any, Final

import msgspec
import numpy as np

from stacklens.promql.model import (
    LimitError,
    Limits,
    Matcher,
    Series,
    labels_key,
    matches_all,
    sanitize_name,
)
from stacklens.store.base import Reader
from stacklens.store.dialect import Dialect, Params

__all__ = ["OtelSeriesSource", "exposed_names", "points_sql"]

_MS: Final = 1_000_000
_SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "gauge": ("",),
    "sum": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
    "exp_histogram": ("_sum", "_count"),
}
_TYPES: Final = {"gauge": "gauge", "sum": "counter", "histogram": "histogram"}


def exposed_names(stored: str, kind: str) -> list[str]:
    base = sanitize_name(stored)
    return [base + suffix for suffix in _SUFFIXES.get(kind, ())]


def _where(
    d: Dialect,
    p: Params,
    names: Collection[str] | None,
    stacks: tuple[str, ...] | None,
    start_ns: int | None,
    end_ns: int | None,
) -> str:
    where: list[str] = []
    if names is not None:
        where.append(d.in_list("name", p("names", sorted(names), "str_list")))
    if stacks is not None:
        where.append(d.in_list("stack_name", p("stacks", stacks, "str_list")))
    if start_ns is not None:
        where.append(f"ts >= {d.ts_from_ns(p('since', start_ns, 'ts_ns'))}")
    if end_ns is not None:
        where.append(f"ts <= {d.ts_from_ns(p('until', end_ns, 'ts_ns'))}")
    return f" WHERE {' AND '.join(where)}" if where else ""


def names_sql(d: Dialect, stacks: tuple[str, ...] | None) -> tuple[str, dict[str, Any]]:
    p = Params(d)
    where = _where(d, p, None, stacks, None, None)
    return (
        f"SELECT name, kind, {d.any_value('unit')} FROM metric_points{where} "
        "GROUP BY name, kind ORDER BY name LIMIT 100000",
        p.values,
    )


def series_sql(
    d: Dialect,
    names: Collection[str],
    stacks: tuple[str, ...] | None,
    start_ns: int,
    end_ns: int,
    limit: int,
) -> tuple[str, dict[str, Any]]:
    p = Params(d)
    where = _where(d, p, names, stacks, start_ns, end_ns)
    return (
        "SELECT DISTINCT name, kind, stack_name, service, attributes, bounds "
        f"FROM metric_points{where} LIMIT {p('limit', limit, 'int')}",
        p.values,
    )


def points_sql(
    d: Dialect,
    names: Collection[str],
    stacks: tuple[str, ...] | None,
    start_ns: int,
    end_ns: int,
    limit: int,
) -> tuple[str, dict[str, Any]]:
    """The points of the stored ``names`` in ``[start_ns, end_ns]``, oldest first."""
    p = Params(d)
    where = _where(d, p, names, stacks, start_ns, end_ns)
    return (
        "SELECT name, kind, stack_name, service, attributes, "
        f"{d.ts_to_ns('ts')} AS ts_ns, value, count, bounds, bucket_counts, temporality "
        f"FROM metric_points{where} ORDER BY ts_ns LIMIT {p('limit', limit, 'int')}",
        p.values,
    )


def _base_labels(stack: str, service: str | None, attributes: str) -> dict[str, str]:
    try:
        raw = msgspec.json.decode(attributes or "{}")
    except msgspec.DecodeError:
        raw = {}
    labels: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
            labels[sanitize_name(str(key))] = text
    if service and "service_name" not in labels:
        labels["service_name"] = service
    labels["stack_name"] = stack
    return labels


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


class OtelSeriesSource:
    """Reads ``metric_points``; ``reserved`` names (the hub's families) are skipped."""

    def __init__(self, reader: Reader, reserved: Collection[str] = ()) -> None:
        self._reader = reader
        self._reserved = frozenset(reserved)
        # Every selector of a query asks which metrics are stored (a rule names two to
        # four): within one query they are read once per set of stacks.
        self._names: dict[tuple[str, ...] | None, list[tuple[str, str, str | None]]] = {}

    def _stored(self, stacks: tuple[str, ...] | None) -> list[tuple[str, str, str | None]]:
        stored = self._names.get(stacks)
        if stored is None:
            rows = self._reader.fetch(*names_sql(self._reader.dialect, stacks)).rows
            stored = self._names[stacks] = [(str(r[0]), str(r[1]), r[2]) for r in rows]
        return stored

    def _stored_for(self, names: Sequence[str], stacks: tuple[str, ...] | None) -> set[str]:
        wanted = set(names) - self._reserved
        return {s for s, kind, _ in self._stored(stacks) if wanted & set(exposed_names(s, kind))}

    def names(self, stacks: tuple[str, ...] | None) -> list[str]:
        found = {n for s, k, _ in self._stored(stacks) for n in exposed_names(s, k)}
        return sorted(found - self._reserved)

    def metadata(self) -> dict[str, tuple[str, str, str]]:
        return {
            sanitize_name(s): (_TYPES.get(k, "unknown"), "", u or "")
            for s, k, u in self._stored(None)
            if sanitize_name(s) not in self._reserved
        }

    def series(
        self, names: Sequence[str], stacks: tuple[str, ...] | None, start_ms: int, end_ms: int
    ) -> list[dict[str, str]]:
        stored = self._stored_for(names, stacks)
        if not stored:
            return []
        statement = series_sql(
            self._reader.dialect, stored, stacks, start_ms * _MS, end_ms * _MS, 1_000_000
        )
        wanted = set(names)
        found: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        for name, kind, stack, service, attributes, bounds in self._reader.fetch(*statement).rows:
            base = _base_labels(stack, service, attributes)
            for exposed in exposed_names(name, kind):
                if exposed not in wanted:
                    continue
                les = [_le(b) for b in (bounds or [])] + ["+Inf"]
                for le in les if exposed.endswith("_bucket") and kind == "histogram" else [""]:
                    labels = {**base, "__name__": exposed}
                    if le:
                        labels["le"] = le
                    found[labels_key(labels)] = labels
        return list(found.values())

    def query_started(self, selectors: Sequence[Sequence[Matcher]] = ()) -> None:
        """Nothing is kept between queries: the stored names are read again. Each
        selector is read on its own (``selectors`` unused)."""
        self._names.clear()

    def samples(
        self,
        names: Sequence[str],
        stacks: tuple[str, ...] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        limits: Limits,
        *,
        spacing_ms: int | None = None,  # stored points are served as stored
    ) -> list[Series]:
        stored = self._stored_for(names, stacks)
        if not stored:
            return []
        statement = points_sql(
            self._reader.dialect, stored, stacks, start_ms * _MS, end_ms * _MS, limits.max_rows + 1
        )
        rows = self._reader.fetch(*statement).rows
        if len(rows) > limits.max_rows:
            raise LimitError(f"the query reads more than {limits.max_rows} points (max_rows)")
        wanted = set(names)
        points: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[tuple[int, float]]]]
        points = {}
        delta: set[tuple[tuple[str, str], ...]] = set()
        for name, kind, stack, service, attributes, ts, value, count, bounds, buckets, temp in rows:
            base = _base_labels(stack, service, attributes)
            ms = int(ts) // _MS
            for exposed, number in _values(name, kind, value, count, bounds, buckets, wanted):
                labels = {**base, "__name__": exposed, **number[0]}
                if not matches_all(matchers, labels):
                    continue
                key = labels_key(labels)
                if key not in points:
                    if len(points) >= limits.max_series:
                        raise LimitError(
                            f"a selector matches more than {limits.max_series} series (max_series)"
                        )
                    points[key] = (labels, [])
                points[key][1].append((ms, number[1]))
                if temp == "delta" and kind != "gauge":
                    delta.add(key)
        out: list[Series] = []
        for key, (labels, samples) in points.items():
            ts_arr = np.array([t for t, _ in samples], dtype=np.int64)
            values = np.array([v for _, v in samples], dtype=np.float64)
            if key in delta:
                values = np.cumsum(values)
            counter = labels["__name__"].endswith(("_total", "_bucket", "_count", "_sum"))
            out.append(Series(labels, ts_arr, values, counter=counter))
        return out


def _values(
    name: str,
    kind: str,
    value: float | None,
    count: int | None,
    bounds: list[float] | None,
    buckets: list[int] | None,
    wanted: Collection[str],
) -> list[tuple[str, tuple[dict[str, str], float]]]:
    """``(exposed name, ({extra labels}, value))`` for one stored point."""
    out: list[tuple[str, tuple[dict[str, str], float]]] = []
    grouped: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    base = sanitize_name(name)
    if kind in ("gauge", "sum") and value is not None:
        grouped[base].append(({}, float(value)))
    if kind in ("histogram", "summary", "exp_histogram"):
        if value is not None:
            grouped[f"{base}_sum"].append(({}, float(value)))
        if count is not None:
            grouped[f"{base}_count"].append(({}, float(count)))
    if kind == "histogram" and buckets:
        running = 0.0
        les = [_le(b) for b in (bounds or [])] + ["+Inf"]
        for le, n in zip(les, buckets, strict=False):
            running += float(n)
            grouped[f"{base}_bucket"].append(({"le": le}, running))
    for exposed, items in grouped.items():
        if exposed in wanted:
            out += [(exposed, item) for item in items]
    return out
