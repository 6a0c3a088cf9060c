"""Filters, sources and measures shared by every analytics query.

A query reads either raw ``events`` or the ``usage_hourly`` rollup; both offer the same
measures and dimensions under the same names, so each query is written once over a
:class:`Source`. The rollup answers whenever it can give the exact figure: no user
filter, ``since``/``until`` on whole hours and a step of whole hours. Anything else
(a user filter, a 5-minute step, an unaligned window) reads raw events, pruned by time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from stacklens.analytics.definitions import IS_ERROR, IS_REQUEST, IS_UNPRICED
from stacklens.store.dialect import Dialect, Params

__all__ = [
    "BUCKET",
    "DIMENSIONS",
    "HOURLY",
    "HOUR_NS",
    "MEASURES",
    "RAW",
    "Filters",
    "Query",
    "Source",
    "breakdown",
    "choose_source",
    "grouped",
    "series",
    "totals",
    "where",
]

HOUR_NS: Final = 3600 * 10**9
#: (sql, parameters) — what every builder returns.
Query = tuple[str, dict[str, Any]]


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    """The query API's common filters; ``until`` is exclusive."""

    since_ns: int
    until_ns: int
    stacks: tuple[str, ...] | None = None
    model: str | None = None
    agent: str | None = None
    user: str | None = None
    step_s: int = 3600


class Source(msgspec.Struct, frozen=True):
    name: str
    table: str
    time: str
    #: measure name → SQL (over this source), per dialect-neutral templates.
    raw: bool


RAW: Final = Source("events", "events", "ts", raw=True)
HOURLY: Final = Source("usage_hourly", "usage_hourly", "hour", raw=False)

#: Dimensions both sources have (empty values come back as null).
DIMENSIONS: Final = ("stack_name", "event_type", "model", "agent", "tool", "role")


def _count_type(name: str) -> str:
    return f"event_type = '{name}'"


#: measure → (expression over raw events, expression over usage_hourly).
def _measures(d: Dialect) -> dict[str, tuple[str, str]]:
    typed = {
        "messages": "message",
        "sessions": "session_start",
        "llm_calls": "llm_call",
        "tool_calls": "tool_use",
    }
    out: dict[str, tuple[str, str]] = {
        "events": ("count(*)", "sum(events)"),
        "requests": (d.count_if(IS_REQUEST), d.sum_if("events", IS_REQUEST)),
        "failures": (d.count_if("success = false"), "sum(failures)"),
        "errors": (d.count_if(IS_ERROR), "sum(errors)"),
        "unpriced": (d.count_if(IS_UNPRICED), "sum(unpriced)"),
        "cost_usd": ("sum(cost_usd)", "sum(cost_usd)"),
        "duration_ms_sum": ("sum(duration_ms)", "sum(duration_ms_sum)"),
        "duration_count": ("count(duration_ms)", "sum(duration_count)"),
    }
    for measure, event_type in typed.items():
        out[measure] = (
            d.count_if(_count_type(event_type)),
            d.sum_if("events", _count_type(event_type)),
        )
    for column in (
        "tokens_in",
        "tokens_out",
        "tokens_cache_read",
        "tokens_cache_write",
        "tokens_reasoning",
    ):
        out[column] = (f"coalesce(sum({column}), 0)", f"coalesce(sum({column}), 0)")
    return out


MEASURES: Final = (
    "events",
    "requests",
    "failures",
    "errors",
    "unpriced",
    "cost_usd",
    "duration_ms_sum",
    "duration_count",
    "messages",
    "sessions",
    "llm_calls",
    "tool_calls",
    "tokens_in",
    "tokens_out",
    "tokens_cache_read",
    "tokens_cache_write",
    "tokens_reasoning",
)


def choose_source(f: Filters, *, step: bool = False) -> Source:
    """The hourly rollup when it gives the exact answer, raw events otherwise."""
    aligned = f.since_ns % HOUR_NS == 0 and f.until_ns % HOUR_NS == 0
    if f.user is None and aligned and (not step or f.step_s % 3600 == 0):
        return HOURLY
    return RAW


def _from(p: Params, f: Filters, source: Source) -> str:
    """The source of a query: the hourly rollup's rows to sum (every measure over it
    is a sum by key columns: see :meth:`Dialect.rollup_sums_source`), or raw events
    read from only the day partitions the window covers (the store resolves them)."""
    if not source.raw:
        return p.dialect.rollup_sums_source(source.table)
    return p.raw_source(source.table, f.since_ns, f.until_ns)


def _dim(source: Source, dim: str) -> str:
    if dim not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dim!r}")
    return dim if source.raw else f"nullif({dim}, '')"


def where(
    d: Dialect, p: Params, f: Filters, source: Source, event_types: Sequence[str] = ()
) -> str:
    """The WHERE clause of the common filters over ``source``."""
    t = source.time
    parts = [
        f"{t} >= {d.ts_from_ns(p('since', f.since_ns, 'ts_ns'))}",
        f"{t} < {d.ts_from_ns(p('until', f.until_ns, 'ts_ns'))}",
    ]
    if f.stacks is not None:
        parts.append(d.in_list("stack_name", p("stacks", f.stacks, "str_list")))
    if event_types:
        parts.append(d.in_list("event_type", p("event_types", tuple(event_types), "str_list")))
    for field in ("model", "agent"):
        value = getattr(f, field)
        if value is not None:
            parts.append(f"{field} = {p(field, value)}")
    if f.user is not None:
        if not source.raw:
            raise ValueError("the hourly rollup has no user dimension")
        parts.append(f"user_id = {p('user', f.user)}")
    return " AND ".join(parts)


def _select(d: Dialect, source: Source, measures: Sequence[str]) -> str:
    table = _measures(d)
    cols = []
    for m in measures:
        if m not in table:
            raise ValueError(f"unknown measure {m!r}")
        cols.append(f"{table[m][0 if source.raw else 1]} AS {m}")
    return ", ".join(cols)


def series(
    d: Dialect,
    f: Filters,
    measures: Sequence[str],
    *,
    group_by: str | None = None,
    event_types: Sequence[str] = (),
) -> Query:
    """Measures per time bucket (``step_s`` wide, epoch-aligned), optionally per
    dimension; rows ``(bucket_ns, [group], *measures)`` in time order."""
    source = choose_source(f, step=True)
    p = Params(d)
    bucket = d.bucket_ns(source.time, p("step", f.step_s * 10**9, "int"))
    group = f", {_dim(source, group_by)} AS {group_by}" if group_by else ""
    cond = where(d, p, f, source, event_types)
    sql = (
        f"SELECT {bucket} AS bucket_ns{group}, {_select(d, source, measures)} "
        f"FROM {_from(p, f, source)} WHERE {cond} GROUP BY 1{', 2' if group_by else ''} "
        f"ORDER BY 1{', 2' if group_by else ''}"
    )
    return sql, p.values


def breakdown(
    d: Dialect,
    f: Filters,
    dim: str,
    measures: Sequence[str],
    *,
    event_types: Sequence[str] = (),
    order_by: str | None = None,
    limit: int = 100,
) -> Query:
    """Measures per value of ``dim``, largest ``order_by`` first."""
    source = choose_source(f)
    p = Params(d)
    order = order_by or measures[0]
    if order not in measures:
        raise ValueError("order_by must be one of the measures")
    cond = where(d, p, f, source, event_types)
    # Ordered outside the aggregate: ``ORDER BY events`` must name the output, not
    # the rollup's column of the same name (which some backends prefer).
    sql = (
        f"SELECT * FROM (SELECT {_dim(source, dim)} AS {dim}, {_select(d, source, measures)} "
        f"FROM {_from(p, f, source)} WHERE {cond} GROUP BY 1) AS by_dim "
        f"ORDER BY {order} DESC, 1 LIMIT {p('limit', int(limit), 'int')}"
    )
    return sql, p.values


def totals(d: Dialect, f: Filters, measures: Sequence[str]) -> Query:
    source = choose_source(f)
    p = Params(d)
    cond = where(d, p, f, source)
    return (
        f"SELECT {_select(d, source, measures)} FROM {_from(p, f, source)} WHERE {cond}",
        p.values,
    )


#: A grouping of :func:`grouped`: the time bucket, a dimension, or the totals.
BUCKET: Final = "bucket"


def grouped(
    d: Dialect, f: Filters, groupings: Sequence[str | None], measures: Sequence[str]
) -> Query:
    """The measures per each of several groupings, in one read of the source
    (``GROUPING SETS``): ``"bucket"`` (per ``step_s`` bucket, as :func:`series`), a
    dimension (as :func:`breakdown`, unordered and unlimited), or None (the totals,
    as :func:`totals`). Rows ``(bucket_ns, *dims, g_bucket, g_<dim>.., *measures)``;
    each ``g_`` column is 0 in the rows of its grouping and 1 elsewhere, so a row
    belongs to the grouping whose flag is 0 (the totals: all are 1).

    A page that shows several of these over one window (the overview) reads the
    rollup once instead of once per panel: on ClickHouse each read of the parts
    table costs ~10 ms however few rows it returns."""
    dims = [g for g in groupings if g is not None and g != BUCKET]
    if len(set(dims)) != len(dims) or not groupings:
        raise ValueError("groupings must be distinct")
    step = BUCKET in groupings
    source = choose_source(f, step=step)
    p = Params(d)
    bucket = d.bucket_ns(source.time, p("step", f.step_s * 10**9, "int"))
    cols = ([f"{bucket} AS bucket_ns"] if step else []) + [
        f"{_dim(source, dim)} AS {dim}" for dim in dims
    ]
    flags = ([f"grouping({bucket}) AS g_bucket"] if step else []) + [
        f"grouping({dim}) AS g_{dim}" for dim in dims
    ]
    # A dimension is grouped by its stored column, not its ``nullif`` output: the
    # grouping is the same (nullif is a function of it), and every backend resolves
    # the bare column name (``_dim`` above has checked it is one).
    sets = ", ".join(
        "()" if g is None else f"({bucket})" if g == BUCKET else f"({g})" for g in groupings
    )
    cond = where(d, p, f, source)
    select = ", ".join([*cols, *flags, _select(d, source, measures)])
    sql = f"SELECT {select} FROM {_from(p, f, source)} WHERE {cond} GROUP BY GROUPING SETS ({sets})"
    return sql, p.values
