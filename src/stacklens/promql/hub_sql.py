"""SQL builders behind :mod:`stacklens.promql.hub_series`: a hub counter family's
current totals and its contributions, per series and time bucket.

The contributions come from ``metric_minutes`` (what each series gained per minute,
folded at load) when the buckets are whole minutes, else from the raw events (the
same contributions, replayed: :func:`stacklens.analytics.rollups.counter_contributions`).
A week of a busy hub is ~10x fewer minute rows than raw events."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from stacklens.analytics.rollups import (
    METRIC_COUNTERS,
    METRIC_MINUTES,
    MINUTE_NS,
    USAGE_HOURLY,
    counter_contributions,
)
from stacklens.store.dialect import Dialect, Params
from stacklens.store.sql import stacks_since

__all__ = [
    "SERIES",
    "increments_sql",
    "newest_hours_sql",
    "newest_sql",
    "series_sql",
    "totals_sql",
]

Statement = tuple[str, dict[str, Any]]
#: The columns naming a counter series.
SERIES: Final = ("stack_name", "family", "l1", "l2", "l3")


def _stacks(d: Dialect, p: Params, column: str, stacks: tuple[str, ...] | None) -> list[str]:
    if stacks is None:
        return []
    return [d.in_list(column, p("stacks", stacks, "str_list"))]


def totals_sql(
    d: Dialect,
    families: Collection[str],
    stacks: tuple[str, ...] | None,
    limit: int,
) -> Statement:
    """Each series' value now (``metric_counters``: what ``/metrics`` shows; its
    contributions summed, not its folded view read: on ClickHouse ~3 ms less), and the
    :meth:`~stacklens.store.dialect.Dialect.hash64` of its :data:`SERIES` columns (how
    :func:`increments_sql` names it)."""
    p = Params(d)
    where = [d.in_list("family", p("families", sorted(families), "str_list"))]
    where += _stacks(d, p, "stack_name", stacks)
    series = ", ".join(SERIES)
    return (
        f"SELECT {series}, sum(value), {d.hash64(SERIES)} "
        f"FROM {d.rollup_sums_source(METRIC_COUNTERS.name)} "
        f"WHERE {' AND '.join(where)} GROUP BY {series} "
        f"ORDER BY {series} LIMIT {p('limit', limit, 'int')}",
        p.values,
    )


def series_sql(d: Dialect, stacks: tuple[str, ...] | None, limit: int) -> Statement:
    """Every counter series (families and label values), for the metadata routes."""
    p = Params(d)
    where = _stacks(d, p, "stack_name", stacks)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return (
        "SELECT DISTINCT stack_name, family, l1, l2, l3 "
        f"FROM {d.rollup_sums_source(METRIC_COUNTERS.name)}{clause} "
        f"ORDER BY stack_name, family, l1, l2, l3 LIMIT {p('limit', limit, 'int')}",
        p.values,
    )


def _contributions(
    d: Dialect,
    p: Params,
    families: Collection[str],
    stacks: tuple[str, ...] | None,
    since_ns: int,
    *,
    minutes: bool,
) -> tuple[str, str]:
    """``(with_clause, select)``: rows ``(stack_name, family, l1, l2, l3, ts, v)``, a
    series' gain ``v`` at ``ts`` from ``since_ns`` on: from ``metric_minutes`` (``ts``
    the minute) when ``minutes`` (the caller's bounds and resolution are whole
    minutes), else from raw events."""
    column = "minute" if minutes else "s.ts"
    where = [f"{column} >= {d.ts_from_ns(p('since', since_ns, 'ts_ns'))}"]
    if minutes:
        where.append(d.in_list("family", p("families", sorted(families), "str_list")))
        where += _stacks(d, p, "stack_name", stacks)
        return "", (
            "SELECT stack_name, family, l1, l2, l3, minute AS ts, value AS v "
            f"FROM {METRIC_MINUTES.name} WHERE {' AND '.join(where)}"
        )
    source = p.raw_source("events", since_ns, None)
    where += _stacks(d, p, "s.stack_name", stacks)
    return counter_contributions(
        d, source, where=" AND ".join(where), with_ts=True, families=families
    )


def increments_sql(
    d: Dialect,
    families: Collection[str],
    stacks: tuple[str, ...] | None,
    since_ns: int,
    until_ns: int,
    resolution_ns: int,
    limit: int,
) -> Statement:
    """Rows ``(series, bucket, v)``: the gain ``v`` of the series whose
    :meth:`~stacklens.store.dialect.Dialect.hash64` of its :data:`SERIES` columns
    is ``series`` (as :func:`totals_sql` reports it) in the ``resolution_ns`` bucket
    starting at ``bucket`` (epoch-aligned, ns), within ``[since_ns, until_ns)``; and a
    row per series with ``bucket = until_ns`` (a multiple of ``resolution_ns``): the
    sum of its gains at or after ``until_ns``, what it gained after the window,
    subtracted from its total. A series and bucket may have several rows (minute rows
    a compaction has not folded yet): the caller sums them.

    For a columnar fetch (:meth:`~stacklens.store.base.ColumnReader.fetch_arrow`):
    a week at a 1-minute step is ~10^5-10^6 rows, which as Python tuples, as
    per-series lists built in SQL, or with five label strings a row, cost several
    times the scan. The raw events are summed per bucket in SQL first (many events a
    bucket); minute rows are not, nor are a histogram's bounds for its ``_count`` (the
    caller sums the rows of several series into one): grouping its 13 bounds' rows in
    SQL (205 k minute rows to 86 k at 10 M events) cost more than the caller's
    ``bincount`` over them, 16-22 against 14 ms on DuckDB and 131 against 54 ms on
    chDB. The window and what follows it are one statement, and so are a query's
    ``families``: on ClickHouse each statement costs ~8-10 ms however little it reads."""
    p = Params(d)
    minutes = all(n % MINUTE_NS == 0 for n in (since_ns, until_ns, resolution_ns))
    with_clause, union = _contributions(d, p, families, stacks, since_ns, minutes=minutes)
    until = d.ts_from_ns(p("until", until_ns, "ts_ns"))
    resolution = p("resolution", resolution_ns, "int")
    series = d.hash64(SERIES)
    if not with_clause:  # metric_minutes: a row a series and minute already
        window = (
            f"SELECT {series} AS series, {d.bucket_ns('ts', resolution)} AS bucket, v "
            f"FROM ({union}) u WHERE ts < {until}"
        )
    else:
        window = (
            f"SELECT {series} AS series, {d.bucket_ns('ts', resolution)} AS bucket, "
            f"sum(v) AS v FROM ({union}) u WHERE ts < {until} GROUP BY series, bucket"
        )
    # the same bucket expression, of until itself: the same type in both halves
    after = (
        f"SELECT {series} AS series, {d.bucket_ns(until, resolution)} AS bucket, "
        f"sum(v) AS v FROM ({union}) u WHERE ts >= {until} GROUP BY series"
    )
    statement = (
        f"{with_clause} SELECT series, bucket, v FROM ({window} UNION ALL {after}) w "
        f"LIMIT {p('limit', limit, 'int')}"
    )
    return (statement if with_clause else d.summing_read(statement)), p.values


def newest_hours_sql(d: Dialect, stacks: tuple[str, ...] | None, until_ns: int) -> Statement:
    """Rows ``(stack_name, hour_ns)``: the start of the hour of each stack's newest event
    before ``until_ns``, as the hourly rollup has it (the hour holding ``until_ns``
    included: some of its events may be before it)."""
    p = Params(d)
    where = [f"hour < {d.ts_from_ns(p('until', until_ns, 'ts_ns'))}", "events > 0"]
    where += _stacks(d, p, "stack_name", stacks)
    return (
        f"SELECT stack_name, {d.ts_to_ns('max(hour)')} "
        f"FROM {d.rollup_sums_source(USAGE_HOURLY.name)} WHERE {' AND '.join(where)} "
        "GROUP BY stack_name",
        p.values,
    )


def newest_sql(
    d: Dialect,
    stacks: tuple[str, ...] | None,
    since_ns: int | None,
    until_ns: int,
    resolution_ns: int | None,
    *,
    newest_from: Mapping[str, int] | None = None,
) -> Statement:
    """Each stack's newest event time (ns) before ``until_ns`` — per ``resolution_ns``
    bucket from ``since_ns`` on, or overall (``resolution_ns=None``): the history of
    ``stacklens_stack_last_seen_timestamp_seconds``. ``newest_from``: only these
    stacks, each from the instant given (:func:`newest_hours_sql`'s hours); stacks
    sharing one share a condition."""
    p = Params(d)
    where = [f"ts < {d.ts_from_ns(p('until', until_ns, 'ts_ns'))}"]
    if since_ns is not None:
        where.append(f"ts >= {d.ts_from_ns(p('since', since_ns, 'ts_ns'))}")
    where += _stacks(d, p, "stack_name", stacks)
    if newest_from:
        where.append(stacks_since(d, p, newest_from, "newest"))
        earliest = min(newest_from.values())
        since_ns = earliest if since_ns is None else max(since_ns, earliest)
    source = p.raw_source("events", since_ns, until_ns)
    newest = d.ts_to_ns("max(ts)")
    if resolution_ns is None:
        return (
            f"SELECT stack_name, {newest} FROM {source} WHERE {' AND '.join(where)} "
            "GROUP BY stack_name",
            p.values,
        )
    bucket = d.bucket_ns("ts", p("resolution", resolution_ns, "int"))
    return (
        f"SELECT stack_name, {bucket} AS bucket, {newest} AS newest FROM {source} "
        f"WHERE {' AND '.join(where)} GROUP BY stack_name, bucket",
        p.values,
    )
