"""The embedded default store: one DuckDB file under the data directory.

One connection is opened; the loader writes through it and every reader takes its own
cursor (a DuckDB connection refuses a second concurrent call).

This adapter holds only what is DuckDB's own: the connection, transactions, the loads
and Python rows staged through Arrow (:mod:`stacklens.store.duckdb_staging`: spool
segments read into ``staging`` with ``read_ndjson``), ``ATTACH``/``COPY FROM DATABASE``
backups (which copy the day tables and the views over them), and the raw streams' day
tables (:mod:`stacklens.store.duckdb_partitions`). Every other statement comes from the
builders of :mod:`stacklens.store.sql` over :data:`~stacklens.store.dialect.DUCKDB`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import duckdb
import pyarrow as pa

from stacklens.store import duckdb_partitions as parts
from stacklens.store import sql
from stacklens.store.api_rows import event_out, format_ns
from stacklens.store.base import (
    ErasureStep,
    EventQuery,
    LoadResult,
    Params,
    Partition,
    QueryResult,
    StagedRows,
)
from stacklens.store.columns import TABLES, TableSpec
from stacklens.store.dialect import DUCKDB, DayTables, Dialect, check_identifier
from stacklens.store.duckdb_staging import (
    ARROW_SOURCE,
    Stage,
    apply_arrow,
    load_staged,
    stage_arrow_sql,
    stage_segments_sql,
    staged_arrow,
)

__all__ = ["DuckDBStore"]

_T = TypeVar("_T")


class DuckDBStore:
    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str = "256MB",
        threads: int = 2,
        checkpoint_threshold: str = "256MB",
        extra_ddl: Sequence[str] = (),
        load_hooks: Mapping[str, Sequence[str]] | None = None,
        dedup_window_ns: int = 3600 * 10**9,
    ) -> None:
        self.path = path
        #: How far back (by receive time) a retried key is recognised as a duplicate.
        self.dedup_window_ns = dedup_window_ns
        path.parent.mkdir(parents=True, exist_ok=True)
        # A WAL checkpoint every 16 MB (DuckDB's default) cost ~6 us a row under load;
        # every 256 MB, ~1.8 us. The price is a longer WAL replay after a crash.
        self._con = duckdb.connect(
            str(path),
            config={
                "memory_limit": memory_limit,
                "threads": threads,
                "checkpoint_threshold": checkpoint_threshold,
            },
        )
        self._write_lock = threading.Lock()
        # The raw streams' day tables and their views, migrating a file from before the
        # partitioned layout: one transaction, so a crash mid-migration changes nothing.
        with self._transaction() as con:
            for table in TABLES.values():
                parts.ensure_layout(con, table)
                # What a windowed read reads when no day table overlaps its window.
                con.execute(
                    DUCKDB.create_table(
                        _no_day(table), [(c.name, c.kind) for c in table.columns], ()
                    )
                )
            con.execute(sql.checkpoints_ddl())
        for statement in extra_ddl:
            self._con.execute(statement)
        # Statements run over ``staging`` inside each load's transaction (rollups).
        self._load_hooks = {stream: tuple(v) for stream, v in (load_hooks or {}).items()}

    @property
    def dialect(self) -> Dialect:
        return DUCKDB

    def fetch(self, statement: str, params: Params | None = None) -> QueryResult:
        """One read on its own cursor, closed before returning: a DuckDB connection
        refuses a second concurrent call, and a cursor left open pins memory."""

        def rows(cursor: duckdb.DuckDBPyConnection, values: dict[str, Any]) -> QueryResult:
            result = cursor.execute(statement, values)
            columns = tuple(d[0] for d in result.description or ())
            return QueryResult(columns, result.fetchall())

        return self._read(params, rows)

    def fetch_arrow(self, statement: str, params: Params | None = None) -> pa.Table:
        def columns(cursor: duckdb.DuckDBPyConnection, values: dict[str, Any]) -> pa.Table:
            # A relation straight to Arrow: through execute() DuckDB copies the rows.
            return cursor.sql(statement, params=values).to_arrow_table()

        return self._read(params, columns)

    def _read(
        self,
        params: Params | None,
        take: Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], _T],
    ) -> _T:
        values = dict(params) if params else {}
        cursor = self._con.cursor()
        try:
            days = [k for k, v in values.items() if isinstance(v, DayTables)]
            if not days:
                return take(cursor, values)
            # The day tables and the rows in one snapshot: a day dropped meanwhile is
            # still there for this read.
            cursor.execute("BEGIN TRANSACTION")
            for key in days:
                values[key] = _covering_tables(cursor, values[key])
            found = take(cursor, values)
            cursor.execute("COMMIT")
            return found
        finally:
            cursor.close()

    def load_segments(self, stream: str, segments: Sequence[tuple[int, Path]]) -> LoadResult:
        if not segments:
            return LoadResult(read=0, inserted=0)
        last = max(number for number, _ in segments)
        return self.load_files(stream, [path for _, path in segments], checkpoint=last)

    def load_files(
        self, stream: str, files: Sequence[Path], *, checkpoint: int | None = None
    ) -> LoadResult:
        table = TABLES[stream]

        def stage(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(stage_segments_sql(table), {"files": [str(f) for f in files]})

        return self._load(stream, stage if files else None, checkpoint)

    def load_arrow(self, stream: str, batch: Any, *, checkpoint: int | None = None) -> LoadResult:
        """Insert the rows of an Arrow table or record batch (the stream's row-struct
        columns, timestamps as epoch-ns int64) in one transaction, exactly as
        :meth:`load_files` inserts spool segments: dedup, rollup hooks, day tables,
        checkpoint. The append path without NDJSON parsing (``bench/limit.py`` measures
        the store's limit through it)."""
        table = TABLES[stream]

        def stage(con: duckdb.DuckDBPyConnection) -> None:
            con.register(ARROW_SOURCE, batch)
            try:
                con.execute(stage_arrow_sql(table))
            finally:
                con.unregister(ARROW_SOURCE)

        return self._load(stream, stage, checkpoint)

    def _load(self, stream: str, stage: Stage | None, checkpoint: int | None) -> LoadResult:
        """One load transaction (:func:`~stacklens.store.duckdb_staging.load_staged`),
        exclusively on the writer connection."""
        with self._write_lock:
            return load_staged(
                self._con,
                stream,
                stage,
                checkpoint,
                dedup_window_ns=self.dedup_window_ns,
                hooks=self._load_hooks.get(stream, ()),
            )

    def apply_staged(self, staged: StagedRows, statements: Sequence[str]) -> None:
        """Stage ``staged`` as the temp table ``staged.name`` and run ``statements``
        over it, in one transaction with no load in between (all or nothing)."""
        arrow = staged_arrow(staged)
        name = check_identifier(staged.name)
        with self._write_lock:
            apply_arrow(self._con, name, arrow, statements)

    def drop_day(self, stream: str, day: dt.date) -> None:
        """Drop ``day``'s partition table and recreate the view, in one transaction (a
        catalog change: milliseconds whatever the day's size; its blocks are reused
        after the next checkpoint)."""
        with self._transaction() as con:
            parts.drop_day(con, TABLES[stream], day)

    def partitions(self, stream: str) -> list[Partition]:
        table = TABLES[stream]
        cursor = self._con.cursor()
        try:
            cursor.execute("BEGIN TRANSACTION")  # one snapshot: no drop in between
            found = parts.partitions(cursor, table)
            cursor.execute("COMMIT")
            return found
        finally:
            cursor.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The writer connection in a transaction, exclusively; rolled back on error."""
        with self._write_lock:
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise

    def _user_row_tables(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """Every table holding raw rows with a ``user_id``: each day table of each
        :data:`~stacklens.store.sql.USER_ROW_TABLES` (a view cannot be written)."""
        return [
            name for table in sql.USER_ROW_TABLES for name in parts.day_tables(con, table).values()
        ]

    def erase_user(
        self, user_ids: Sequence[str], steps: Sequence[ErasureStep] = ()
    ) -> dict[str, int]:
        """The users' raw rows out of every table that holds them, then ``steps``
        (rollups), in one transaction with no load in between (all or nothing)."""
        users = tuple(user_ids)
        counts: dict[str, int] = {"events": 0}
        with self._write_lock:
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                for table in self._user_row_tables(con):
                    statement, params = sql.erase_user_rows_sql(table, users)
                    counts["events"] += _changed(con.execute(statement, params))
                for step in steps:
                    changed = _changed(con.execute(step.statement, step.params))
                    if step.label:
                        counts[step.label] = counts.get(step.label, 0) + changed
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
        return counts

    def storage(self, tables: Sequence[str]) -> dict[str, int]:
        """Bytes of the database file's blocks each table's columns occupy (distinct
        blocks x the block size). Rows loaded since the last checkpoint live in the WAL
        and are not counted until DuckDB checkpoints them into the file."""
        existing = {str(row[0]) for row in self.fetch(_TABLE_NAMES).rows}
        block_size = int(self.fetch(_BLOCK_SIZE).scalar() or 0)
        sizes: dict[str, int] = {}
        for table in tables:
            # A raw stream is a view over its day tables: its size is theirs.
            spec = next((t for t in TABLES.values() if t.name == table), None)
            members = (
                [name for name in existing if spec and sql.parse_day_table(spec, name)]
                if spec is not None
                else [check_identifier(table)]
            )
            sizes[table] = sum(
                int(self.fetch(_TABLE_BLOCKS, {"table": name}).scalar() or 0) * block_size
                for name in members
                if name in existing
            )
        return sizes

    def reclaim_space(self) -> bool:
        """``CHECKPOINT``: the WAL is folded into the file and the blocks of dropped
        rows are freed for reuse. Without it a small deployment's WAL only grows (it is
        checkpointed at ``checkpoint_threshold``, 256 MB). DuckDB refuses while another
        transaction writes (a reader's temp state): the job retries next run."""
        with self._write_lock:
            try:
                self._con.execute("CHECKPOINT")
            except duckdb.TransactionException:
                return False
        return True

    @contextlib.contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The writer connection, exclusively (no load runs meanwhile).

        For tests and maintenance scripts only (a benchmark's bulk generator, which
        moves ``staging`` in with :func:`stacklens.store.duckdb_partitions.move_staged`):
        the hub itself writes through :meth:`load_files`, :meth:`apply_staged` and
        :meth:`drop_day`, never through a connection."""
        with self._write_lock:
            yield self._con

    def checkpoint(self, stream: str) -> int:
        found = self.fetch(*sql.checkpoint_sql(stream)).scalar()
        return int(found) if found is not None else 0

    def query_events(self, query: EventQuery) -> list[dict[str, Any]]:
        statement, params = sql.select_events_sql(query)
        return [event_out(row) for row in self.fetch(statement, params).dicts()]

    def query_metric_points(
        self,
        *,
        name: str | None,
        stacks: tuple[str, ...] | None,
        since_ns: int | None,
        until_ns: int | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        statement, params = sql.select_metric_points_sql(
            name=name, stacks=stacks, since_ns=since_ns, until_ns=until_ns, limit=limit
        )
        return [event_out(row) for row in self.fetch(statement, params).dicts()]

    def metric_names(self, stacks: tuple[str, ...] | None) -> list[dict[str, Any]]:
        return [
            {"name": n, "kind": k, "unit": u, "points": c, "last_seen": format_ns(last)}
            for n, k, u, c, last in self.fetch(*sql.metric_names_sql(stacks)).rows
        ]

    def backup(self, dest: Path) -> None:
        """A transactionally consistent copy of the whole database into a new file.

        Under the write lock, so no load is half in it; readers go on meanwhile."""
        with self._write_lock:
            con = self._con
            source = _scalar_text(con, "SELECT current_database()")
            con.execute(f"ATTACH '{_sql_string(str(dest))}' AS stacklens_backup")
            try:
                con.execute(f'COPY FROM DATABASE "{source}" TO stacklens_backup')
            finally:
                con.execute("DETACH stacklens_backup")

    def count_events(self) -> int:
        return int(self.fetch(sql.count_events_sql()).scalar() or 0)

    def ping(self) -> None:
        self.fetch("SELECT 1")

    def close(self) -> None:
        with self._write_lock:
            self._con.close()


_TABLE_NAMES: Final = "SELECT table_name FROM duckdb_tables() WHERE NOT temporary"
_BLOCK_SIZE: Final = "SELECT block_size FROM pragma_database_size() LIMIT 1"
#: A segment names its first block; a long one lists more in ``additional_block_ids``.
_TABLE_BLOCKS: Final = (
    "SELECT count(DISTINCT b) FROM (SELECT block_id AS b FROM pragma_storage_info($table) "
    "WHERE persistent AND block_id >= 0 UNION ALL SELECT unnest(additional_block_ids) "
    "FROM pragma_storage_info($table) WHERE persistent)"
)


def _changed(result: duckdb.DuckDBPyConnection) -> int:
    """The number of rows a DELETE/UPDATE/INSERT changed (DuckDB answers it as a row)."""
    row = result.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _covering_tables(con: duckdb.DuckDBPyConnection, wanted: DayTables) -> list[str]:
    """The day tables of ``wanted.table`` overlapping its window (an empty table of
    the stream's columns when none does)."""
    spec = next(t for t in TABLES.values() if t.name == wanted.table)
    lo = None if wanted.since_ns is None else _day_of(wanted.since_ns)
    hi = None if wanted.until_ns is None else _day_of(wanted.until_ns - 1)
    names = [
        name
        for day, name in sorted(parts.day_tables(con, spec).items())
        if (lo is None or day >= lo) and (hi is None or day <= hi)
    ]
    return names or [_no_day(spec)]


def _no_day(table: TableSpec) -> str:
    return f"no_day_{table.name}"


def _day_of(ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(ns // 10**9, tz=dt.UTC).date()


def _scalar_text(con: duckdb.DuckDBPyConnection, statement: str) -> str:
    row = con.execute(statement).fetchone()
    assert row is not None
    return str(row[0])


def _sql_string(text: str) -> str:
    """A string literal's body (ATTACH takes no parameters)."""
    return text.replace("'", "''")
