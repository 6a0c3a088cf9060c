"""Writing staged rows into the DuckDB file: the temp table ``staging`` filled from
sealed spool segments (``read_ndjson``) or an Arrow batch, then one load transaction
(dedup, rollup hooks, the move into the day tables, the spool checkpoint); and Python
rows staged through Arrow for the statements of ``DuckDBStore.apply_staged``.

Each function runs on the writer connection while the caller holds its write lock
(:class:`stacklens.store.duckdb.DuckDBStore`), and commits or rolls back itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Final

import duckdb

from stacklens.store import duckdb_partitions as parts
from stacklens.store import sql
from stacklens.store.base import LoadResult, RejectedDataError, StagedRows
from stacklens.store.columns import TABLES, TableSpec
from stacklens.store.dialect import DUCKDB, check_identifier

__all__ = [
    "ARROW_SOURCE",
    "Stage",
    "apply_arrow",
    "is_data_error",
    "load_staged",
    "stage_arrow_sql",
    "stage_segments_sql",
    "staged_arrow",
]

#: Fills the temp table ``staging`` on the connection it is given.
Stage = Callable[[duckdb.DuckDBPyConnection], None]

#: ``read_ndjson`` types of the row structs' JSON (timestamps are epoch ns on the wire).
_NDJSON_TYPES: Final = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "BIGINT",
    "json": "VARCHAR",
    "float_list": "DOUBLE[]",
    "int_list": "BIGINT[]",
}


def _struct_literal(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in mapping.items()) + "}"


def _staged_column(name: str, kind: str) -> str:
    if kind == "timestamp":
        return f"{DUCKDB.ts_from_ns(name)} AS {name}"
    if name == "received_ns":
        # A row struct left at its default omits the field; 0 keeps it comparable.
        return "coalesce(received_ns, 0) AS received_ns"
    return name


def _stage_sql(table: TableSpec, source: str) -> str:
    """``source``'s rows into the temp table ``staging``: the columns converted, rows
    without a key (commit markers) left out, one row per key (the earliest received)."""
    select = ", ".join(_staged_column(c.name, c.kind) for c in table.columns)
    return (
        f"CREATE OR REPLACE TEMP TABLE staging AS SELECT {select} FROM {source} "
        f"WHERE {table.key} IS NOT NULL "
        f"QUALIFY row_number() OVER (PARTITION BY {table.key} ORDER BY received_ns) = 1"
    )


def stage_segments_sql(table: TableSpec) -> str:
    """Read sealed spool segments (parameter ``$files``) into the temp table
    ``staging``, skipping commit-marker lines and keeping one row per key."""
    types = {c.name: _NDJSON_TYPES[c.kind] for c in table.columns}
    return _stage_sql(
        table,
        f"read_ndjson($files, columns = {_struct_literal(types)}, format = 'newline_delimited')",
    )


#: The name an Arrow batch is registered under while :meth:`DuckDBStore.load_arrow`
#: stages it.
ARROW_SOURCE: Final = "staging_arrow"


def stage_arrow_sql(table: TableSpec) -> str:
    """Copy the registered Arrow batch (:data:`ARROW_SOURCE`: the row struct's columns,
    timestamps as epoch-ns integers, as the spool's NDJSON holds them) into the temp
    table ``staging``, exactly as :func:`stage_segments_sql` stages a segment's rows."""
    return _stage_sql(table, ARROW_SOURCE)


def is_data_error(exc: BaseException) -> bool:
    """Whether DuckDB refused the rows themselves (retrying them cannot help): a value
    that does not convert or fit (``DataError``: overflow, out of range), a broken
    constraint, or a spool line ``read_ndjson`` cannot parse. I/O, memory, a closed or
    invalidated database are not the data's fault."""
    if isinstance(exc, duckdb.DataError | duckdb.ConstraintException):
        return True
    return isinstance(exc, duckdb.InvalidInputException) and "JSON" in str(exc)


def load_staged(
    con: duckdb.DuckDBPyConnection,
    stream: str,
    stage: Stage | None,
    checkpoint: int | None,
    *,
    dedup_window_ns: int,
    hooks: Sequence[str],
) -> LoadResult:
    """One load transaction: ``stage`` fills ``staging``, then dedup (against the rows
    received up to ``dedup_window_ns`` before the earliest staged one), ``hooks``, the
    move into day tables and the checkpoint, committed together."""
    table = TABLES[stream]
    staged = inserted = 0
    con.execute("BEGIN TRANSACTION")
    try:
        if stage is not None:
            stage(con)
            staged = _scalar(con, "SELECT count(*) FROM staging")
            since = _scalar(con, "SELECT min(received_ns) FROM staging") - dedup_window_ns
            con.execute(*sql.dedup_staged_sql(table, since))
            for statement in hooks:
                con.execute(statement)
            # Into each day's table; a day not stored yet gets its table here.
            inserted = parts.move_staged(con, table)
        if checkpoint is not None:
            con.execute(*sql.set_checkpoint_sql(stream, checkpoint))
        con.execute("COMMIT")
    except BaseException as exc:
        # A failed COMMIT (disk full) may leave no transaction to roll back: the
        # ROLLBACK error must not replace the real one.
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        if is_data_error(exc):
            raise RejectedDataError(f"{type(exc).__name__}: {exc}") from exc
        raise
    return LoadResult(read=staged, inserted=inserted)


def staged_arrow(staged: StagedRows) -> Any:
    """``staged``'s rows as an Arrow table (built before the write lock is taken)."""
    import pyarrow as pa

    arrow_types = {
        "string": pa.string(),
        "float": pa.float64(),
        "int": pa.int64(),
        "timestamp": pa.timestamp("us"),  # DuckDB's TIMESTAMP: microseconds
    }
    schema = pa.schema([(check_identifier(n), arrow_types[k]) for n, k in staged.columns])
    columns: dict[str, list[Any]] = {}
    for i, (column, kind) in enumerate(staged.columns):
        values = [row[i] for row in staged.rows]
        if kind == "timestamp":  # epoch ns → µs
            values = [None if v is None else int(v) // 1000 for v in values]
        columns[column] = values
    return pa.table(columns, schema=schema)


def apply_arrow(
    con: duckdb.DuckDBPyConnection, name: str, arrow: Any, statements: Sequence[str]
) -> None:
    """``arrow`` as the temp table ``name`` (a checked identifier) and ``statements``
    run over it, in one transaction (all or nothing)."""
    con.register(f"{name}_arrow", arrow)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
        for written in statements:
            # A write to a raw stream's view runs on each of its day tables.
            for statement in parts.fan_out(con, written, TABLES.values()):
                con.execute(statement)
        con.execute(f"DROP TABLE {name}")
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.unregister(f"{name}_arrow")


def _scalar(con: duckdb.DuckDBPyConnection, statement: str) -> int:
    row = con.execute(statement).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
