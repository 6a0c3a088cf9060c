"""The ClickHouse store: a server over HTTP, or embedded through chDB, one adapter.

Both go through ``clickhouse-connect``: ``get_client(host=..., ...)`` for a server,
``get_client(interface="chdb", path=...)`` for the embedded engine the tests use, so
every statement, parameter binding and Arrow insert takes the production code path.

ClickHouse has no multi-statement transactions; exactly-once loading rests on
idempotent steps instead, run in this order for each batch of spool segments:

1. read the segments, keep one row per key, and drop the keys already stored (a
   retried event) — the same batch always yields the same rows until step 3 lands;
2. fold the rows into the rollups (``INSERT ... SELECT`` over the temporary table
   ``staging``), each insert with a deterministic ``insert_deduplication_token``
   (stream, segment numbers, a digest of the segments' bytes, the target);
3. insert the rows (one synchronous Arrow insert, its own token);
4. advance the stream's checkpoint.

A retry after any failure — even a timeout whose insert had in fact committed —
replays the same tokens: ClickHouse drops a block whose token it has seen
(``non_replicated_deduplication_window`` on single-node tables, Keeper on replicated
ones), and once step 3 has landed step 1 leaves nothing to insert. Reads run with
``final = 1`` (``FINAL`` on every ``ReplacingMergeTree``), so counts never depend on
a background merge.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec
import pyarrow as pa

from stacklens.store import clickhouse_migrations as migrations
from stacklens.store import sql
from stacklens.store.api_rows import event_out, format_ns
from stacklens.store.base import (
    ErasureStep,
    EventQuery,
    LoadResult,
    Params,
    Partition,
    QueryResult,
    RejectedDataError,
    StagedRows,
)
from stacklens.store.clickhouse_client import (
    READ_SETTINGS,
    WRITE_SETTINGS,
    ClickHouseClient,
    is_data_error,
)
from stacklens.store.clickhouse_dialect import CLICKHOUSE, PARTS_SUFFIX
from stacklens.store.clickhouse_rows import memory_table_ddl, read_batch, staged_arrow, to_arrow
from stacklens.store.clickhouse_tables import cluster_form, ttl_statement
from stacklens.store.columns import TABLES, TableSpec
from stacklens.store.dialect import DayTables, Dialect, check_identifier

__all__ = ["ClickHouseClient", "ClickHouseStore", "is_data_error"]

#: The longest TTL set (30 years: ``toDateTime(ts) + INTERVAL`` must stay before 2106).
MAX_TTL_DAYS: Final = 30 * 365


class ClickHouseStore:
    """One ClickHouse database. ``client``: the writer (loads, maintenance; it holds
    the temporary ``staging`` table, so it is used under the write lock only);
    ``reader``: for reads (defaults to ``client``); ``serialize_reads``: one read at a
    time on it (chDB), or concurrent reads (an HTTP reader without a session)."""

    def __init__(
        self,
        client: ClickHouseClient,
        *,
        reader: ClickHouseClient | None = None,
        extra_ddl: Iterable[str] = (),
        load_hooks: Mapping[str, Iterable[str]] | None = None,
        dedup_window_ns: int = 3600 * 10**9,
        ttl_days: Mapping[str, int] | None = None,
        clustered: bool = False,
        serialize_reads: bool = True,
    ) -> None:
        self._client = client
        self._reader = reader or client
        # A reader of its own holds the read settings as its client's: clickhouse-connect's
        # chDB interface applies per-call settings of an Arrow read with SET, a read of
        # system.settings and a restore around it (a SELECT 1 took 6.8-7.6 ms with them,
        # 0.8-1.1 ms without). Over HTTP a client's settings ride on every request as
        # per-call ones do. A shared client keeps them per call (writes set their own).
        self._read_settings: dict[str, Any] | None = READ_SETTINGS
        if reader is not None:
            for key, value in READ_SETTINGS.items():
                reader.set_client_setting(key, value)
            self._read_settings = None
        self.dedup_window_ns = dedup_window_ns
        self._write_lock = threading.RLock()
        # One client for both, or a chDB handle (whose thread safety chDB does not
        # promise): one read at a time. An HTTP reader without a session needs none.
        self._read_lock: contextlib.AbstractContextManager[Any] = (
            self._write_lock
            if reader is None
            else threading.Lock()
            if serialize_reads
            else contextlib.nullcontext()
        )
        migrations.apply(client, clustered=clustered)
        for statement in extra_ddl:
            client.command(cluster_form(statement) if clustered else statement)
        for table, days in (ttl_days or {}).items():
            # TTL is computed as a DateTime (ends 2106): a longer tier sets none, and
            # the retention job's day drops alone expire it.
            if days <= MAX_TTL_DAYS:
                client.command(ttl_statement(table, days, cluster=clustered))
        self._load_hooks = {
            stream: _named_hooks(tuple(v)) for stream, v in (load_hooks or {}).items()
        }

    @property
    def dialect(self) -> Dialect:
        return CLICKHOUSE

    # -- reads -------------------------------------------------------------------

    def fetch(self, statement: str, params: Params | None = None) -> QueryResult:
        # One table per raw stream, partition-pruned: the DayTables values go.
        values = {k: v for k, v in (params or {}).items() if not isinstance(v, DayTables)}
        with self._read_lock:
            result = self._reader.query(statement, parameters=values, settings=self._read_settings)
        return QueryResult(tuple(result.column_names), [tuple(r) for r in result.result_rows])

    def fetch_arrow(self, statement: str, params: Params | None = None) -> pa.Table:
        values = {k: v for k, v in (params or {}).items() if not isinstance(v, DayTables)}
        with self._read_lock:
            table: pa.Table = self._reader.query_arrow(
                statement, parameters=values, settings=self._read_settings
            )
        return table

    def checkpoint(self, stream: str) -> int:
        found = self.fetch(*sql.checkpoint_sql(stream, CLICKHOUSE)).scalar()
        return int(found) if found is not None else 0

    def query_events(self, query: EventQuery) -> list[dict[str, Any]]:
        statement, params = sql.select_events_sql(query, CLICKHOUSE)
        return [_row_out(row) for row in self.fetch(statement, params).dicts()]

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
            name=name,
            stacks=stacks,
            since_ns=since_ns,
            until_ns=until_ns,
            limit=limit,
            d=CLICKHOUSE,
        )
        return [_row_out(row) for row in self.fetch(statement, params).dicts()]

    def metric_names(self, stacks: tuple[str, ...] | None) -> list[dict[str, Any]]:
        return [
            {"name": n, "kind": k, "unit": u, "points": c, "last_seen": format_ns(last)}
            for n, k, u, c, last in self.fetch(*sql.metric_names_sql(stacks, CLICKHOUSE)).rows
        ]

    def count_events(self) -> int:
        return int(self.fetch(sql.count_events_sql()).scalar() or 0)

    # -- loads -------------------------------------------------------------------

    def load_segments(self, stream: str, segments: Sequence[tuple[int, Path]]) -> LoadResult:
        if not segments:
            return LoadResult(read=0, inserted=0)
        last = max(number for number, _ in segments)
        first = min(number for number, _ in segments)
        return self._load(stream, [p for _, p in segments], last, f"{first}-{last}")

    def load_files(
        self, stream: str, files: Sequence[Path], *, checkpoint: int | None = None
    ) -> LoadResult:
        return self._load(stream, files, checkpoint, "files")

    def _load(
        self, stream: str, files: Sequence[Path], checkpoint: int | None, numbers: str
    ) -> LoadResult:
        table = TABLES[stream]
        with self._write_lock:
            batch = read_batch(table, files)
            rows = self._not_stored(table, batch.rows)
            inserted = 0
            if rows:
                arrow = to_arrow(table, rows)
                token = f"{stream}:{numbers}:{batch.digest}"
                try:
                    hooks = self._load_hooks.get(stream, ())
                    if hooks:
                        self._stage(table, arrow)
                        for name, hook in hooks:
                            self._client.command(hook, settings=_token(f"{token}:{name}"))
                    self._client.insert_arrow(table.name, arrow, settings=_token(token))
                except Exception as exc:
                    if is_data_error(exc):
                        raise RejectedDataError(f"{type(exc).__name__}: {exc}") from exc
                    raise
                inserted = len(rows)
            if checkpoint is not None:
                self._set_checkpoint(stream, checkpoint)
        return LoadResult(read=len(batch.rows), inserted=inserted)

    def _not_stored(self, table: TableSpec, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` without those whose key is stored (within the retry window)."""
        if not rows:
            return rows
        since = min(int(r.get("received_ns") or 0) for r in rows) - self.dedup_window_ns
        key = table.key
        found = self._client.query(
            f"SELECT {key} FROM {table.name} WHERE received_ns >= {{since:Int64}} "
            f"AND has({{keys:Array(String)}}, {key})",
            parameters={"since": since, "keys": [r[key] for r in rows]},
            settings=READ_SETTINGS,
        )
        stored = {r[0] for r in found.result_rows}
        return [r for r in rows if r[key] not in stored]

    def _stage(self, table: TableSpec, arrow: pa.Table) -> None:
        """The batch as the temporary table ``staging`` the rollup hooks read."""
        self._client.command("DROP TEMPORARY TABLE IF EXISTS staging")
        columns = [(c.name, c.kind) for c in table.columns]
        self._client.command(memory_table_ddl("staging", columns, temporary=True))
        self._client.insert_arrow("staging", arrow, settings={"async_insert": 0})

    def _set_checkpoint(self, stream: str, segment: int) -> None:
        self._client.command(
            f"INSERT INTO {sql.CHECKPOINTS} (stream, segment) "
            "VALUES ({stream:String}, {segment:Int64})",
            parameters={"stream": stream, "segment": segment},
            settings={**WRITE_SETTINGS, "insert_deduplicate": 0},
        )

    # -- maintenance writes --------------------------------------------------------

    def apply_staged(self, staged: StagedRows, statements: Sequence[str]) -> None:
        """Stage the rows as a ``Memory`` table (a mutation — DELETE, ALTER UPDATE —
        cannot read a session's temporary table) under a name of this call's own, so
        two replicas' maintenance writes never share it, and run ``statements`` over
        it in order. Not one transaction: each statement is applied when it returns;
        each ``INSERT`` carries a deduplication token of the staged rows and of the
        state they change (below), so running the same change again after a failure
        — a backfill run again — applies every insert once."""
        name = check_identifier(staged.name)
        unique = f"{name}_{uuid.uuid4().hex[:12]}"
        renamed = [re.sub(rf"\b{name}\b", unique, s) for s in statements]
        arrow = staged_arrow(staged)
        with self._write_lock:
            self._client.command(memory_table_ddl(unique, list(staged.columns)))
            try:
                self._client.insert_arrow(unique, arrow, settings={"async_insert": 0})
                base = self._staged_token(staged, unique)
                for original, statement in zip(statements, renamed, strict=True):
                    step = hashlib.sha256(original.encode()).hexdigest()[:16]
                    self._client.command(statement, settings=_token(f"{base}:{step}"))
            finally:
                self._client.command(f"DROP TABLE IF EXISTS {unique}")

    def _staged_token(self, staged: StagedRows, table: str) -> str:
        """What identifies one change: the staged rows and, when they name events
        (an ``event_id`` column: a backfill's new prices), the stored versions of those
        events — a run again before the events were rewritten matches, a later change
        of the same events (rewritten since: new versions) does not."""
        digest = hashlib.sha256(msgspec.json.encode([staged.name, staged.columns, staged.rows]))
        if any(name == "event_id" for name, _ in staged.columns):
            versions = self.fetch(
                "SELECT count(), groupBitXor(cityHash64(event_id, _version)) FROM events "
                f"WHERE event_id IN (SELECT event_id FROM {check_identifier(table)})"
            ).rows
            digest.update(repr(versions).encode())
        return f"staged:{staged.name}:{digest.hexdigest()[:32]}"

    def drop_day(self, stream: str, day: dt.date) -> None:
        statements, params = sql.drop_day_sql(stream, day, CLICKHOUSE)
        with self._write_lock:
            for statement in statements:
                self._client.command(statement, parameters=params, settings=WRITE_SETTINGS)

    def partitions(self, stream: str) -> list[Partition]:
        """Each stored day: rows counted exactly (FINAL), bytes from ``system.parts``."""
        table = TABLES[stream]
        rows = self.fetch(
            f"SELECT toDate(ts) AS day, count() FROM {table.name} GROUP BY day ORDER BY day"
        ).rows
        sizes = dict(
            self.fetch(
                "SELECT partition_id, sum(bytes_on_disk) FROM system.parts "
                "WHERE database = currentDatabase() AND table = {t:String} AND active "
                "GROUP BY partition_id",
                {"t": table.name},
            ).rows
        )
        return [
            Partition(day=day, rows=int(n), bytes=int(sizes.get(f"{day:%Y%m%d}", 0)))
            for day, n in rows
        ]

    def erase_user(
        self, user_ids: Sequence[str], steps: Sequence[ErasureStep] = ()
    ) -> dict[str, int]:
        """Not one transaction (ClickHouse has none): the raw rows, then each step, in
        order, with no load in between; each DELETE/UPDATE waits for its mutation."""
        users = tuple(user_ids)
        counts: dict[str, int] = {"events": 0}
        with self._write_lock:
            for table in sql.USER_ROW_TABLES:
                statement, params = sql.erase_user_rows_sql(table.name, users, CLICKHOUSE)
                where = statement.split(" WHERE ", 1)[1]
                counts["events"] += int(
                    self.fetch(f"SELECT count() FROM {table.name} WHERE {where}", params).scalar()
                    or 0
                )
                self._client.command(statement, parameters=params, settings=WRITE_SETTINGS)
            for step in steps:
                changed = (
                    int(self.fetch(step.counted, step.params).scalar() or 0) if step.counted else 0
                )
                self._client.command(
                    step.statement, parameters=step.params, settings=WRITE_SETTINGS
                )
                if step.label:
                    counts[step.label] = counts.get(step.label, 0) + changed
        return counts

    def storage(self, tables: Sequence[str]) -> dict[str, int]:
        """Bytes on disk of each table's active parts (a rollup's: its parts table)."""
        names = {t: check_identifier(t) for t in tables}
        wanted = [n for t in names.values() for n in (t, f"{t}{PARTS_SUFFIX}")]
        found = dict(
            self.fetch(
                "SELECT table, sum(bytes_on_disk) FROM system.parts WHERE database = "
                "currentDatabase() AND active AND has({names:Array(String)}, table) "
                "GROUP BY table",
                {"names": wanted},
            ).rows
        )
        return {
            t: int(found.get(n, 0)) + int(found.get(f"{n}{PARTS_SUFFIX}", 0))
            for t, n in names.items()
        }

    def reclaim_space(self) -> bool:
        """Nothing to do: a dropped partition's files go when ClickHouse removes
        inactive parts (``old_parts_lifetime``), and TTL drops whole parts."""
        return True

    def backup(self, dest: Path) -> None:
        """Refused (``ValueError``: the API answers 409): a ClickHouse database is
        backed up by ClickHouse, not copied into the hub's data directory."""
        raise ValueError(
            "stacklens backup copies the embedded DuckDB store only; back a ClickHouse "
            "store up with ClickHouse itself (BACKUP DATABASE ... TO Disk/S3, or "
            "clickhouse-backup)"
        )

    def ping(self) -> None:
        self.fetch("SELECT 1")

    def close(self) -> None:
        with self._write_lock:
            self._client.close()
            if self._reader is not self._client:
                self._reader.close()


def _named_hooks(hooks: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Each hook with the name its insert's deduplication token carries: a digest of
    its statement (and which repeat of it), not its place in the list. A batch that
    failed part way through its hooks and is retried by a version with a hook added
    or moved replays the same tokens for the statements that already landed."""
    seen: dict[str, int] = {}
    named = []
    for hook in hooks:
        digest = hashlib.sha256(hook.encode()).hexdigest()[:16]
        seen[digest] = seen.get(digest, 0) + 1
        named.append((f"hook:{digest}:{seen[digest]}", hook))
    return tuple(named)


def _token(token: str) -> dict[str, Any]:
    return {**WRITE_SETTINGS, "insert_deduplication_token": token}


def _row_out(row: dict[str, Any]) -> dict[str, Any]:
    # An Array column has no NULL: an empty list is a field the row did not carry.
    return event_out({k: (None if v == [] else v) for k, v in row.items()})
