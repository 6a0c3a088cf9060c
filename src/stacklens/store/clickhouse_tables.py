"""The ClickHouse layout of the raw streams and the spool checkpoints.

One table per raw stream (``events``, ``metric_points``), laid out for the hub's
queries:

- ``ReplacingMergeTree(_version)`` ordered by ``(stack_name, ts, <key>)``: a row
  stored twice (a retry that slipped past the load's own deduplication) folds into
  one, and reads run with ``FINAL`` so they never wait for that merge; a cost
  backfill re-inserts a changed row with a newer ``_version``.
- ``PARTITION BY toDate(ts)``: retention drops a day with ``DROP PARTITION``, and
  windowed reads prune to the days they cover.
- ``LowCardinality`` for the dimensions (stack, type, model, provider, ...), ``Delta``
  + ``ZSTD`` on the timestamps and receive times, ``ZSTD`` on free text.
- ``bloom_filter`` skip indexes on ``session_id``, ``trace_id`` and the row key (the
  session, trace and retry-dedup lookups).
- a ``TTL`` per retention tier, set by the store from the retention settings
  (:func:`ttl_statement`), with ``ttl_only_drop_parts = 1`` so expiry drops whole
  parts instead of rewriting them.

These statements are the source of the versioned migrations under
``store/migrations/clickhouse/{unclustered,clustered}``; the clustered form adds
``ON CLUSTER '{cluster}'`` and ``Replicated*`` engines. A test checks that both files
declare the same columns as :mod:`stacklens.store.columns`.
"""

from __future__ import annotations

import re
from typing import Final

from stacklens.store.clickhouse_dialect import CLICKHOUSE, VERSION_COLUMN
from stacklens.store.columns import TABLES, Column, TableSpec
from stacklens.store.dialect import check_identifier
from stacklens.store.sql import CHECKPOINTS

__all__ = [
    "CHECKPOINTS_COLUMNS",
    "MIGRATIONS_TABLE",
    "column_ddl",
    "initial_schema",
    "ttl_statement",
]

MIGRATIONS_TABLE: Final = "schema_migrations"
CHECKPOINTS_COLUMNS: Final = ("stream String", "segment Int64")

#: Dimensions: few distinct values, dictionary-encoded.
_LOW_CARDINALITY: Final = frozenset(
    {
        "stack_name",
        "event_type",
        "service",
        "level",
        "role",
        "model",
        "provider",
        "agent",
        "tool",
        "error_code",
        "method",
        "name",
        "kind",
        "unit",
        "temporality",
    }
)
_NOT_NULL: Final = frozenset({"ts", "stack_name", "event_type", "name", "kind", "received_ns"})
_DELTA: Final = frozenset({"ts", "start_ts", "received_ns"})
_TEXT: Final = frozenset({"message", "content", "attributes", "comment", "command", "url"})
_BLOOM: Final = ("session_id", "trace_id")


def column_ddl(table: TableSpec, column: Column) -> str:
    """One column of a raw table: its type, nullability and codec."""
    base = CLICKHOUSE.column_type(column.kind)
    not_null = column.name in _NOT_NULL or column.name == table.key
    if column.kind.endswith("_list"):
        typ = base
    elif column.name in _LOW_CARDINALITY:
        typ = f"LowCardinality({base if not_null else f'Nullable({base})'})"
    else:
        typ = base if not_null else f"Nullable({base})"
    codec = ""
    if column.name in _DELTA:
        codec = " CODEC(Delta, ZSTD(1))"
    elif column.name in _TEXT or column.name == table.key:
        codec = " CODEC(ZSTD(3))"
    return f"{check_identifier(column.name)} {typ}{codec}"


def _engine(kind: str, cluster: bool, *args: str) -> str:
    name = f"Replicated{kind}" if cluster else kind
    return f"{name}({', '.join(args)})"


def _on_cluster(cluster: bool) -> str:
    return " ON CLUSTER '{cluster}'" if cluster else ""


_CREATE: Final = re.compile(r"^(CREATE (?:TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS \w+) ")
_ENGINE: Final = re.compile(
    r"ENGINE = ((?:Replacing|Summing|Aggregating)?MergeTree)\b(\(([^)]*)\))?"
)


def cluster_form(statement: str) -> str:
    """``statement`` (a ``CREATE`` the hub generates, such as a rollup's parts table
    and view) as the clustered migrations write theirs: ``ON CLUSTER '{cluster}'``
    after the name, a ``Replicated*`` engine on its default Keeper path; anything
    else unchanged. Without it the rollups of a clustered store would exist on one
    node only, unreplicated."""
    created = _CREATE.match(statement)
    if created is None:
        return statement
    statement = f"{created[1]}{_on_cluster(True)} {statement[created.end() :]}"
    return _ENGINE.sub(
        lambda m: f"ENGINE = {_engine(m[1], True, *filter(None, [(m[3] or '').strip()]))}",
        statement,
        count=1,
    )


def raw_table_ddl(table: TableSpec, *, cluster: bool) -> str:
    columns = [column_ddl(table, c) for c in table.columns]
    columns.append(f"{VERSION_COLUMN} UInt64 DEFAULT toUnixTimestamp64Nano(now64(9))")
    present = {c.name for c in table.columns}
    indexes = [
        f"INDEX idx_{name} {name} TYPE bloom_filter(0.01) GRANULARITY 4"
        for name in (*_BLOOM, table.key)
        if name in present
    ]
    body = ",\n    ".join([*columns, *indexes])
    return (
        f"CREATE TABLE IF NOT EXISTS {table.name}{_on_cluster(cluster)} (\n    {body}\n)\n"
        f"ENGINE = {_engine('ReplacingMergeTree', cluster, VERSION_COLUMN)}\n"
        "PARTITION BY toDate(ts)\n"
        f"ORDER BY (stack_name, ts, {table.key})\n"
        "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, "
        "non_replicated_deduplication_window = 10000"
    )


def checkpoints_ddl(*, cluster: bool) -> str:
    columns = ",\n    ".join(
        [*CHECKPOINTS_COLUMNS, f"{VERSION_COLUMN} UInt64 DEFAULT toUnixTimestamp64Nano(now64(9))"]
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS}{_on_cluster(cluster)} (\n    {columns}\n)\n"
        f"ENGINE = {_engine('ReplacingMergeTree', cluster, VERSION_COLUMN)}\n"
        "ORDER BY stream"
    )


def initial_schema(*, cluster: bool) -> list[str]:
    """Migration 0001: the raw tables and the checkpoints (rollups are created by the
    analytics package's DDL over the dialect, as on DuckDB)."""
    return [
        *(raw_table_ddl(t, cluster=cluster) for t in TABLES.values()),
        checkpoints_ddl(cluster=cluster),
    ]


def ttl_statement(table: str, days: int, *, cluster: bool = False) -> str:
    """Expire ``table``'s rows ``days`` after their event time (``ttl_only_drop_parts``:
    a part goes whole once every row in it has expired, no rewrite)."""
    if days <= 0:
        raise ValueError("a TTL is a positive number of days")
    return (
        f"ALTER TABLE {check_identifier(table)}{_on_cluster(cluster)} "
        f"MODIFY TTL toDateTime(ts) + INTERVAL {int(days)} DAY"
    )
