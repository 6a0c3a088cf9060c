"""Queries that need raw events or small state tables: response-time percentiles, the
error log, active stacks (their heartbeats: :mod:`stacklens.analytics.heartbeats`).

Percentiles are exact and interpolated (``quantile_cont``) over ``llm_call`` events'
``duration_ms`` within the window; the error log lists error events (see
:mod:`stacklens.analytics.definitions`) newest first.
"""

from __future__ import annotations

from typing import Final

from stacklens.analytics.definitions import IS_ERROR
from stacklens.analytics.queries import RAW, Filters, Query, where
from stacklens.store.dialect import Dialect, Params

__all__ = [
    "ERROR_LOG_COLUMNS",
    "QUANTILES",
    "active_stacks",
    "error_log",
    "latency",
]

QUANTILES: Final = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
ERROR_LOG_COLUMNS: Final = (
    "event_id",
    "stack_name",
    "session_id",
    "event_type",
    "level",
    "error_code",
    "message",
    "model",
    "agent",
    "tool",
    "service",
    "trace_id",
)


def latency(d: Dialect, f: Filters, *, by_model: bool = False) -> Query:
    """Rows ``([model], count, mean_ms, p50_ms, p95_ms, p99_ms, max_ms)`` of llm_call
    durations."""
    p = Params(d)
    cond = where(d, p, f, RAW, ("llm_call",))
    quantiles = ", ".join(f"{d.quantile('duration_ms', q)} AS {name}_ms" for name, q in QUANTILES)
    group = "model, " if by_model else ""
    tail = " GROUP BY 1" if by_model else ""
    sql = (
        f"SELECT {group}count(*) AS count, avg(duration_ms) AS mean_ms, {quantiles}, "
        f"max(duration_ms) AS max_ms FROM {p.raw_source('events', f.since_ns, f.until_ns)} "
        f"WHERE {cond} AND duration_ms IS NOT NULL{tail}"
    )
    if by_model:
        sql = f"SELECT * FROM ({sql}) AS by_model ORDER BY count DESC, 1"
    return sql, p.values


def error_log(d: Dialect, f: Filters, *, limit: int = 100) -> Query:
    """The newest error events (error, error-level log, failed llm_call/tool_use)."""
    p = Params(d)
    cond = where(d, p, f, RAW)
    cols = ", ".join(ERROR_LOG_COLUMNS)
    sql = (
        f"SELECT {d.ts_to_ns('ts')} AS timestamp_ns, {cols} "
        f"FROM {p.raw_source('events', f.since_ns, f.until_ns)} "
        f"WHERE {cond} AND {IS_ERROR} ORDER BY ts DESC, event_id DESC "
        f"LIMIT {p('limit', int(limit), 'int')}"
    )
    return sql, p.values


def active_stacks(d: Dialect, now_ns: int, window_s: int, stacks: tuple[str, ...] | None) -> Query:
    """Rows ``(stack_name, last_seen_ns, active)`` for every known stack."""
    p = Params(d)
    cutoff = d.ts_from_ns(p("cutoff", now_ns - window_s * 10**9, "ts_ns"))
    cond = (
        f" WHERE {d.in_list('stack_name', p('stacks', stacks, 'str_list'))}"
        if stacks is not None
        else ""
    )
    sql = (
        f"SELECT stack_name, {d.ts_to_ns('last_ts')} AS last_seen_ns, "
        f"last_ts >= {cutoff} AS active FROM stack_last_seen{cond} ORDER BY stack_name"
    )
    return sql, p.values
