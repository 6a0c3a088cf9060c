"""Pure builders of the store's SQL: statements and parameters, never string-formatted
user input. Identifiers and types come from :mod:`stacklens.store.columns` only.
"""

from __future__ import annotations

from typing import Any, Final

from stacklens.store.base import EventQuery
from stacklens.store.columns import EVENT_COLUMNS, ndjson_columns

__all__ = [
    "CHECKPOINTS_DDL",
    "events_ddl",
    "insert_staged_sql",
    "select_events_sql",
    "stage_segments_sql",
]

_DUCKDB_TYPES: Final = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",  # UTC, microseconds
    "json": "JSON",
}

CHECKPOINTS_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS spool_checkpoints (stream VARCHAR PRIMARY KEY, segment BIGINT)"
)


def events_ddl() -> str:
    columns = ",\n  ".join(f"{c.name} {_DUCKDB_TYPES[c.kind]}" for c in EVENT_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS events (\n  {columns}\n)"


def _struct_literal(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in mapping.items()) + "}"


def stage_segments_sql() -> str:
    """Read sealed spool segments (parameter 1: list of paths) into ``staging``,
    skipping commit-marker lines and keeping one row per ``event_id``."""
    select = ", ".join(
        f"make_timestamp({c.name} // 1000) AS {c.name}" if c.kind == "timestamp" else c.name
        for c in EVENT_COLUMNS
    )
    return (
        "CREATE OR REPLACE TEMP TABLE staging AS "
        f"SELECT {select} FROM read_ndjson($files, columns = {_struct_literal(ndjson_columns())}, "
        "format = 'newline_delimited') WHERE event_id IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_ns) = 1"
    )


def insert_staged_sql() -> str:
    """Move ``staging`` into ``events``, skipping ids already stored.

    Retries carry the same ``event_id`` and timestamp, so the anti-join looks only at
    the staged time range, which DuckDB's zone maps prune to a few row groups.
    """
    names = ", ".join(c.name for c in EVENT_COLUMNS)
    return (
        f"INSERT INTO events ({names}) SELECT {names} FROM staging s WHERE NOT EXISTS ("
        "SELECT 1 FROM events e WHERE e.event_id = s.event_id "
        "AND e.ts BETWEEN (SELECT min(ts) FROM staging) AND (SELECT max(ts) FROM staging))"
    )


def select_events_sql(query: EventQuery) -> tuple[str, dict[str, Any]]:
    """``SELECT`` for the event listing, newest first."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": query.limit}
    if query.stacks is not None:
        where.append("list_contains($stacks, stack_name)")
        params["stacks"] = list(query.stacks)
    for field in ("event_type", "session_id", "trace_id"):
        value = getattr(query, field)
        if value is not None:
            where.append(f"{field} = ${field}")
            params[field] = value
    if query.since_ns is not None:
        where.append("ts >= make_timestamp($since // 1000)")
        params["since"] = query.since_ns
    if query.until_ns is not None:
        where.append("ts < make_timestamp($until // 1000)")
        params["until"] = query.until_ns
    names = ", ".join(
        f"epoch_ns({c.name}) AS {c.name}" if c.kind == "timestamp" else c.name
        for c in EVENT_COLUMNS
    )
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {names} FROM events{clause} ORDER BY ts DESC, event_id DESC LIMIT $limit", params
