"""Pure builders of the store's SQL: statements and parameters, never string-formatted
user input. Identifiers and types come from :mod:`stacklens.store.columns` only.
"""

from __future__ import annotations

from typing import Any, Final

from stacklens.store.base import EventQuery
from stacklens.store.columns import EVENTS, METRIC_POINTS, TableSpec

__all__ = [
    "CHECKPOINTS_DDL",
    "dedup_staged_sql",
    "insert_staged_sql",
    "select_events_sql",
    "select_metric_points_sql",
    "stage_segments_sql",
    "table_ddl",
]

_DUCKDB_TYPES: Final = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",  # UTC, microseconds
    "json": "JSON",
    "float_list": "DOUBLE[]",
    "int_list": "BIGINT[]",
}

CHECKPOINTS_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS spool_checkpoints (stream VARCHAR PRIMARY KEY, segment BIGINT)"
)


def table_ddl(table: TableSpec) -> str:
    columns = ",\n  ".join(f"{c.name} {_DUCKDB_TYPES[c.kind]}" for c in table.columns)
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n  {columns}\n)"


def _struct_literal(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in mapping.items()) + "}"


def _staged_column(name: str, kind: str) -> str:
    if kind == "timestamp":
        return f"make_timestamp({name} // 1000) AS {name}"
    if name == "received_ns":
        # A row struct left at its default omits the field; 0 keeps it comparable.
        return "coalesce(received_ns, 0) AS received_ns"
    return name


def stage_segments_sql(table: TableSpec) -> str:
    """Read sealed spool segments (parameter ``$files``) into the temp table
    ``staging``, skipping commit-marker lines and keeping one row per key."""
    select = ", ".join(_staged_column(c.name, c.kind) for c in table.columns)
    return (
        "CREATE OR REPLACE TEMP TABLE staging AS "
        f"SELECT {select} FROM read_ndjson($files, "
        f"columns = {_struct_literal(table.ndjson_types())}, "
        f"format = 'newline_delimited') WHERE {table.key} IS NOT NULL "
        f"QUALIFY row_number() OVER (PARTITION BY {table.key} ORDER BY received_ns) = 1"
    )


def dedup_staged_sql(table: TableSpec) -> str:
    """Drop from ``staging`` the rows whose key is already stored: a client's retry of
    an acknowledged batch (parameter ``$since``: the retry window's start, in
    ``received_ns``).

    Rows are appended in the order they were received, so DuckDB's zone maps on
    ``received_ns`` prune the lookup to the window's last row groups however large the
    table grows (an event-time bound would not: a batch can span hours of event time).
    """
    key = table.key
    return (
        f"DELETE FROM staging WHERE {key} IN (SELECT e.{key} FROM {table.name} e "
        f"WHERE e.received_ns >= $since AND e.{key} IN (SELECT {key} FROM staging))"
    )


def insert_staged_sql(table: TableSpec) -> str:
    """Move ``staging`` (already deduplicated) into ``table``."""
    names = ", ".join(c.name for c in table.columns)
    return f"INSERT INTO {table.name} ({names}) SELECT {names} FROM staging"


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
        for c in EVENTS.columns
    )
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return (
        f"SELECT {names} FROM events{clause} ORDER BY ts DESC, event_id DESC LIMIT $limit",
        params,
    )


def select_metric_points_sql(
    *,
    name: str | None,
    stacks: tuple[str, ...] | None,
    since_ns: int | None,
    until_ns: int | None,
    limit: int,
) -> tuple[str, dict[str, Any]]:
    """Stored OTel metric points, newest first (``name=None``: every name)."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    if name is not None:
        where.append("name = $name")
        params["name"] = name
    if stacks is not None:
        where.append("list_contains($stacks, stack_name)")
        params["stacks"] = list(stacks)
    if since_ns is not None:
        where.append("ts >= make_timestamp($since // 1000)")
        params["since"] = since_ns
    if until_ns is not None:
        where.append("ts < make_timestamp($until // 1000)")
        params["until"] = until_ns
    names = ", ".join(
        f"epoch_ns({c.name}) AS {c.name}" if c.kind == "timestamp" else c.name
        for c in METRIC_POINTS.columns
        if c.name != "received_ns"
    )
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {names} FROM metric_points{clause} ORDER BY ts DESC LIMIT $limit", params
