"""SQL builders behind :mod:`stacklens.promql.hub_series`: a hub counter family's
current totals and its raw events' contributions, per series and time bucket."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from stacklens.analytics.rollups import counter_contributions
from stacklens.store.dialect import Dialect, Params

__all__ = ["after_sql", "increments_sql", "series_sql", "totals_sql"]

Statement = tuple[str, dict[str, Any]]


def _stacks(d: Dialect, p: Params, column: str, stacks: tuple[str, ...] | None) -> list[str]:
    if stacks is None:
        return []
    return [d.in_list(column, p("stacks", stacks, "str_list"))]


def totals_sql(
    d: Dialect, families: Collection[str], stacks: tuple[str, ...] | None, limit: int
) -> Statement:
    """Each series' value now (``metric_counters``: what ``/metrics`` shows)."""
    p = Params(d)
    where = [d.in_list("family", p("families", sorted(families), "str_list"))]
    where += _stacks(d, p, "stack_name", stacks)
    return (
        f"SELECT stack_name, family, l1, l2, l3, sum(value) FROM metric_counters "
        f"WHERE {' AND '.join(where)} GROUP BY stack_name, family, l1, l2, l3 "
        f"ORDER BY stack_name, family, l1, l2, l3 LIMIT {p('limit', limit, 'int')}",
        p.values,
    )


def series_sql(d: Dialect, stacks: tuple[str, ...] | None, limit: int) -> Statement:
    """Every counter series (families and label values), for the metadata routes."""
    p = Params(d)
    where = _stacks(d, p, "stack_name", stacks)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return (
        f"SELECT DISTINCT stack_name, family, l1, l2, l3 FROM metric_counters{clause} "
        f"ORDER BY stack_name, family, l1, l2, l3 LIMIT {p('limit', limit, 'int')}",
        p.values,
    )


def _contributions(
    d: Dialect,
    p: Params,
    families: Collection[str],
    stacks: tuple[str, ...] | None,
    since_ns: int,
    until_ns: int | None,
) -> tuple[str, str]:
    source = p.raw_source("events", since_ns, until_ns)
    where = [f"s.ts >= {d.ts_from_ns(p('since', since_ns, 'ts_ns'))}"]
    if until_ns is not None:
        where.append(f"s.ts < {d.ts_from_ns(p('until', until_ns, 'ts_ns'))}")
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
    """Per series: its ``resolution_ns`` buckets (epoch-aligned starts, ns) and the sum
    of the contributions of its events in ``[since_ns, until_ns)`` in each, as two
    lists in bucket order, and how many buckets (the caller's row limit counts them).

    One row per series, not per bucket: a week of a busy hub is ~10^5-10^6 buckets,
    and a row each costs more to hand to Python than the SQL takes."""
    p = Params(d)
    with_clause, union = _contributions(d, p, families, stacks, since_ns, until_ns)
    bucket = d.bucket_ns("ts", p("resolution", resolution_ns, "int"))
    per_bucket = (
        f"SELECT stack_name, family, l1, l2, l3, {bucket} AS bucket, sum(v) AS v "
        f"FROM ({union}) u GROUP BY stack_name, family, l1, l2, l3, bucket"
    )
    return (
        f"{with_clause} SELECT stack_name, family, l1, l2, l3, "
        f"{d.ordered_list('bucket', 'bucket')}, {d.ordered_list('v', 'bucket')}, count(*) "
        f"FROM ({per_bucket}) b GROUP BY stack_name, family, l1, l2, l3 "
        f"LIMIT {p('limit', limit, 'int')}",
        p.values,
    )


def after_sql(
    d: Dialect,
    families: Collection[str],
    stacks: tuple[str, ...] | None,
    since_ns: int,
    limit: int,
) -> Statement:
    """Per series: the sum of the contributions of events at or after ``since_ns``
    (what a counter gained after the queried window; subtracted from its total)."""
    p = Params(d)
    with_clause, union = _contributions(d, p, families, stacks, since_ns, None)
    return (
        f"{with_clause} SELECT stack_name, family, l1, l2, l3, sum(v) "
        f"FROM ({union}) u GROUP BY stack_name, family, l1, l2, l3 "
        f"LIMIT {p('limit', limit, 'int')}",
        p.values,
    )


def newest_sql(
    d: Dialect,
    stacks: tuple[str, ...] | None,
    since_ns: int | None,
    until_ns: int,
    resolution_ns: int | None,
) -> Statement:
    """Each stack's newest event time (ns) before ``until_ns`` — per ``resolution_ns``
    bucket from ``since_ns`` on, or overall (``resolution_ns=None``): the history of
    ``stacklens_stack_last_seen_timestamp_seconds``."""
    p = Params(d)
    source = p.raw_source("events", since_ns, until_ns)
    where = [f"ts < {d.ts_from_ns(p('until', until_ns, 'ts_ns'))}"]
    if since_ns is not None:
        where.append(f"ts >= {d.ts_from_ns(p('since', since_ns, 'ts_ns'))}")
    where += _stacks(d, p, "stack_name", stacks)
    newest = d.ts_to_ns("max(ts)")
    if resolution_ns is None:
        return (
            f"SELECT stack_name, {newest} FROM {source} WHERE {' AND '.join(where)} "
            "GROUP BY stack_name",
            p.values,
        )
    bucket = d.bucket_ns("ts", p("resolution", resolution_ns, "int"))
    return (
        f"SELECT stack_name, {bucket} AS bucket, {newest} FROM {source} "
        f"WHERE {' AND '.join(where)} GROUP BY stack_name, bucket ORDER BY bucket",
        p.values,
    )
