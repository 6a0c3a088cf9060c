"""The embedded default store: one DuckDB file under the data directory.

One connection is opened; the loader writes through it and every reader takes its own
cursor (a DuckDB connection refuses a second concurrent call).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import msgspec

from stacklens.store import sql
from stacklens.store.base import EventQuery, LoadResult, Params, QueryResult, RejectedDataError
from stacklens.store.columns import TABLES
from stacklens.store.dialect import DUCKDB, Dialect

__all__ = ["DuckDBStore", "format_ns", "is_data_error"]


def is_data_error(exc: BaseException) -> bool:
    """Whether DuckDB refused the rows themselves (retrying them cannot help): a value
    that does not convert or fit (``DataError``: overflow, out of range), a broken
    constraint, or a spool line ``read_ndjson`` cannot parse. I/O, memory, a closed or
    invalidated database are not the data's fault."""
    if isinstance(exc, duckdb.DataError | duckdb.ConstraintException):
        return True
    return isinstance(exc, duckdb.InvalidInputException) and "JSON" in str(exc)


def format_ns(ns: int) -> str:
    """Epoch nanoseconds → RFC 3339 UTC text with microseconds."""
    moment = dt.datetime.fromtimestamp(ns // 1000 / 1e6, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        for table in TABLES.values():
            self._con.execute(sql.table_ddl(table))
        self._con.execute(sql.CHECKPOINTS_DDL)
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
        cursor = self._con.cursor()
        try:
            result = cursor.execute(statement, dict(params) if params else {})
            columns = tuple(d[0] for d in result.description or ())
            return QueryResult(columns, result.fetchall())
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
        staged = inserted = 0
        with self._write_lock:
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                if files:
                    con.execute(sql.stage_segments_sql(table), {"files": [str(f) for f in files]})
                    staged = _scalar(con, "SELECT count(*) FROM staging")
                    since = (
                        _scalar(con, "SELECT min(received_ns) FROM staging") - self.dedup_window_ns
                    )
                    con.execute(sql.dedup_staged_sql(table), {"since": since})
                    for statement in self._load_hooks.get(stream, ()):
                        con.execute(statement)
                    # DuckDB answers an INSERT with the number of rows it inserted.
                    inserted = _scalar(con, sql.insert_staged_sql(table))
                if checkpoint is not None:
                    con.execute(
                        "INSERT OR REPLACE INTO spool_checkpoints VALUES ($stream, $segment)",
                        {"stream": stream, "segment": checkpoint},
                    )
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

    @contextlib.contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The writer connection, exclusively (no load runs meanwhile)."""
        with self._write_lock:
            yield self._con

    def checkpoint(self, stream: str) -> int:
        found = self.fetch(
            "SELECT segment FROM spool_checkpoints WHERE stream = $stream", {"stream": stream}
        ).scalar()
        return int(found) if found is not None else 0

    def query_events(self, query: EventQuery) -> list[dict[str, Any]]:
        statement, params = sql.select_events_sql(query)
        return [_event_out(row) for row in self.fetch(statement, params).dicts()]

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
        return [_event_out(row) for row in self.fetch(statement, params).dicts()]

    def metric_names(self, stacks: tuple[str, ...] | None) -> list[dict[str, Any]]:
        statement = (
            "SELECT name, kind, any_value(unit) AS unit, count(*) AS points, "
            "epoch_ns(max(ts)) AS last_ns FROM metric_points"
            + (" WHERE list_contains($stacks, stack_name)" if stacks is not None else "")
            + " GROUP BY name, kind ORDER BY name"
        )
        params = {"stacks": list(stacks)} if stacks is not None else {}
        return [
            {"name": n, "kind": k, "unit": u, "points": c, "last_seen": format_ns(last)}
            for n, k, u, c, last in self.fetch(statement, params).rows
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
        return int(self.fetch("SELECT count(*) FROM events").scalar() or 0)

    def ping(self) -> None:
        self.fetch("SELECT 1")

    def close(self) -> None:
        with self._write_lock:
            self._con.close()


def _scalar(con: duckdb.DuckDBPyConnection, statement: str) -> int:
    row = con.execute(statement).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _scalar_text(con: duckdb.DuckDBPyConnection, statement: str) -> str:
    row = con.execute(statement).fetchone()
    assert row is not None
    return str(row[0])


def _sql_string(text: str) -> str:
    """A string literal's body (ATTACH takes no parameters)."""
    return text.replace("'", "''")


def _event_out(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the API shows it: RFC 3339 time, attributes as an object,
    empty fields left out."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None:
            continue
        if key == "ts":
            out["timestamp"] = format_ns(value)
            out["timestamp_ns"] = value
        elif key == "start_ts":
            out["start_timestamp"] = format_ns(value)
        elif key == "received_ns":
            continue
        elif key == "attributes":
            attributes = msgspec.json.decode(value) if isinstance(value, str) else value
            if attributes:
                out["attributes"] = attributes
        else:
            out[key] = value
    return out
