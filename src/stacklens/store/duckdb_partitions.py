"""Day partitions of the raw streams in the one DuckDB file (issue 14).

Each raw stream's rows live in one table per UTC day of event time, under a view with
the stream's table name (the ``UNION ALL`` of the day tables; see
:mod:`stacklens.store.sql`). Why tables in the one file, not a file per day: a DuckDB
transaction writes to one attached database only, and a load inserts its rows, folds
them into the rollups and advances the spool checkpoint in one transaction — that is
what makes "acknowledged = loaded exactly once" hold after a crash. Why not row
deletes: DuckDB does not give a deleted row's space back (deleting 70 % of a table grew
its file); a dropped table's blocks are reused after the next checkpoint.

Every function here runs inside a transaction the caller opened on the writer
connection (a load, a drop, the migration on open): a day table and the view over the
day tables change together or not at all, so a ``kill -9`` at any moment leaves the
previous state or the next one, never a half.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Final

import duckdb

from stacklens.store import sql
from stacklens.store.base import Partition, RejectedDataError
from stacklens.store.columns import TableSpec

__all__ = [
    "day_tables",
    "drop_day",
    "ensure_layout",
    "fan_out",
    "move_staged",
    "partitions",
]

_CATALOG: Final = (
    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
    "AND schema_name = 'main' AND NOT temporary AND starts_with(table_name, $prefix)"
)


def day_tables(con: duckdb.DuckDBPyConnection, table: TableSpec) -> dict[dt.date, str]:
    """The day tables of ``table`` this transaction sees, by day."""
    names = con.execute(_CATALOG, {"prefix": f"{table.name}_p"}).fetchall()
    found = {}
    for (name,) in names:
        day = sql.parse_day_table(table, name)
        if day is not None:
            found[day] = name
    return found


def _count(con: duckdb.DuckDBPyConnection, statement: str, params: object = None) -> int:
    row = con.execute(statement, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def move_staged(con: duckdb.DuckDBPyConnection, table: TableSpec) -> int:
    """Insert the rows of ``staging`` (deduplicated) into the tables of the days they
    fall on, creating those tables (and the view over them) as needed; the number of
    rows inserted."""
    return _move(con, table, "staging", view=True)


def _move(con: duckdb.DuckDBPyConnection, table: TableSpec, source: str, *, view: bool) -> int:
    days = [day for (day,) in con.execute(sql.staged_days_sql(source=source)).fetchall()]
    if None in days:
        # Never silently left out of every day: refuse the rows (the loader quarantines).
        raise RejectedDataError(
            f"a {table.name} row without an event time ({sql.PARTITION_COLUMN})"
        )
    existing = day_tables(con, table)
    inserted = 0
    for day in days:
        if day not in existing:
            con.execute(sql.day_table_ddl(table, day))
        inserted += _count(con, *sql.insert_staged_day_sql(table, day, source=source))
    if view and set(days) - existing.keys():
        con.execute(sql.partition_view_sql(table, existing.keys() | set(days)))
    return inserted


#: A write whose target is a table: ``UPDATE t [[AS] alias] ...`` / ``DELETE FROM t ...``.
_WRITE: Final = re.compile(
    r"\s*(UPDATE|DELETE\s+FROM)\s+([a-z_][a-z0-9_]*)"
    r"(?:\s+(?:AS\s+)?(?!(?:SET|WHERE|USING|RETURNING)\b)([a-z_][a-z0-9_]*))?\b",
    re.IGNORECASE,
)


def fan_out(
    con: duckdb.DuckDBPyConnection, statement: str, tables: Iterable[TableSpec]
) -> list[str]:
    """A maintenance ``UPDATE``/``DELETE`` written against a raw stream's view (a
    cost backfill's ``UPDATE events ... FROM repriced``) as one statement per day
    table, each aliased to the name the statement refers to (a view cannot be
    written); any other statement unchanged."""
    found = _WRITE.match(statement)
    spec = next((t for t in tables if found and found[2].lower() == t.name), None)
    if found is None or spec is None:
        return [statement]
    verb, alias = found[1], found[3] or spec.name
    rest = statement[found.end() :]
    return [f"{verb} {name} AS {alias}{rest}" for _, name in sorted(day_tables(con, spec).items())]


def drop_day(con: duckdb.DuckDBPyConnection, table: TableSpec, day: dt.date) -> bool:
    """Drop ``day``'s table of ``table`` and recreate the view without it (``False``:
    no such day stored)."""
    existing = day_tables(con, table)
    if day not in existing:
        return False
    con.execute(sql.partition_view_sql(table, existing.keys() - {day}))
    con.execute(sql.drop_day_table_sql(table, day))
    return True


def ensure_layout(con: duckdb.DuckDBPyConnection, table: TableSpec) -> int:
    """Give ``table`` the partitioned layout: a file from before it (one plain table
    named like the stream) has its rows moved into day tables and that table dropped;
    then the view is (re)created. The number of rows migrated (0: nothing to do)."""
    plain = _count(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary AND table_name = $name",
        {"name": table.name},
    )
    migrated = 0
    if plain:
        stored = _count(con, f"SELECT count(*) FROM {table.name}")
        migrated = _move(con, table, table.name, view=False)
        if migrated != stored:  # never expected; refuse rather than lose rows
            raise RuntimeError(f"migrating {table.name}: moved {migrated} of {stored} rows")
        con.execute(f"DROP TABLE {table.name}")
    con.execute(sql.partition_view_sql(table, day_tables(con, table)))
    return migrated


def partitions(con: duckdb.DuckDBPyConnection, table: TableSpec) -> list[Partition]:
    """Each day table of ``table``, oldest first, with its rows and an estimate of its
    bytes, from the catalog only (no scan: the retention job and status pages call it
    under ingest; a storage-info pass over 30 days took seconds of CPU).

    Rows are DuckDB's cardinality of the table (exact for an append-only table; rows
    deleted since the last checkpoint may still count). Bytes are the file's used
    blocks shared out by rows over every table of the file."""
    catalog = con.execute(
        "SELECT table_name, estimated_size FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary"
    ).fetchall()
    sizes = {str(name): int(rows or 0) for name, rows in catalog}
    used = con.execute("SELECT block_size * used_blocks FROM pragma_database_size()").fetchone()
    per_row = (int(used[0] or 0) if used else 0) / max(1, sum(sizes.values()))
    return [
        Partition(day=day, rows=sizes.get(name, 0), bytes=round(sizes.get(name, 0) * per_row))
        for day, name in sorted(day_tables(con, table).items())
    ]
