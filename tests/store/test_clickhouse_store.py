"""What only the ClickHouse store has: TTL per tier, day partitions and their bytes
from ``system.parts``, the backup it refuses, and reads exact before any merge."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacklens.schema import EventRow
from stacklens.store.clickhouse import ClickHouseStore
from stacklens.store.clickhouse_client import READ_SETTINGS
from stacklens.store.clickhouse_clients import chdb_clients
from stacklens.testing.backends import chdb_path, write_segment

S = 10**9
DAY0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z


def _open(ttl_days: int) -> ClickHouseStore:
    writer, reader = chdb_clients(chdb_path(), f"s_{uuid.uuid4().hex[:12]}")
    ttl = {"events": ttl_days, "metric_points": ttl_days}
    return ClickHouseStore(writer, reader=reader, ttl_days=ttl)


@pytest.fixture
def store() -> Iterator[ClickHouseStore]:
    made = _open(3650)  # the dataset's January 2026 days are kept
    yield made
    made.close()


def _rows(day_offset: int, count: int) -> list[EventRow]:
    start = DAY0 + day_offset * 86400 * S
    return [
        EventRow(
            event_id=f"d{day_offset}-{n}",
            ts=start + n * S,
            stack_name="alpha",
            event_type="message",
            received_ns=start + n * S,
        )
        for n in range(count)
    ]


def test_ttl_per_tier_and_day_partitions(store: ClickHouseStore, tmp_path: Path) -> None:
    create = str(store.fetch("SHOW CREATE TABLE events").scalar())
    assert "TTL toDateTime(ts) + toIntervalDay(3650)" in create
    assert "ttl_only_drop_parts = 1" in create
    rows = _rows(-1, 3) + _rows(0, 5)
    store.load_segments("events", [(1, write_segment(tmp_path, 1, rows))])
    parts = store.partitions("events")
    assert [(p.day, p.rows) for p in parts] == [
        (dt.date(2026, 1, 14), 3),
        (dt.date(2026, 1, 15), 5),
    ]
    assert all(p.bytes > 0 for p in parts)
    assert store.storage(["events", "usage_hourly"])["events"] == sum(p.bytes for p in parts)
    store.drop_day("events", dt.date(2026, 1, 14))  # DROP PARTITION ID '20260114'
    assert [(p.day, p.rows) for p in store.partitions("events")] == [(dt.date(2026, 1, 15), 5)]
    assert store.reclaim_space() is True


def test_a_tier_past_datetime_range_sets_no_ttl() -> None:
    store = _open(100 * 365)  # ts + 100 years is past DateTime's 2106: no TTL at all
    try:
        assert " TTL " not in str(store.fetch("SHOW CREATE TABLE events").scalar())
    finally:
        store.close()


def test_ttl_expires_rows_past_the_tier(tmp_path: Path) -> None:
    store = _open(8)  # January 2026 is more than 8 days before the real clock
    try:
        store.load_segments("events", [(1, write_segment(tmp_path, 1, _rows(0, 4)))])
        store.fetch("OPTIMIZE TABLE events FINAL")  # TTL runs on merges: force one
        assert store.count_events() == 0
    finally:
        store.close()


def test_reads_are_exact_before_any_merge(store: ClickHouseStore, tmp_path: Path) -> None:
    # The same row reaching the table twice (past the load's own deduplication: a
    # dedup window of 0 and a new receive time) is two rows in two parts until a
    # merge; reads with FINAL count it once.
    store.dedup_window_ns = -(10**18)
    first = _rows(0, 2)
    store.load_segments("events", [(1, write_segment(tmp_path, 1, first))])
    store.load_segments("events", [(2, write_segment(tmp_path, 2, first[:1]))])
    raw = store.fetch("SELECT count() FROM events SETTINGS final = 0").scalar()
    assert (raw, store.count_events()) == (3, 2)


def test_backup_is_refused_with_a_clear_message(store: ClickHouseStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="BACKUP DATABASE"):
        store.backup(tmp_path / "copy")


class _Recording:
    """A client whose calls' per-call settings are recorded."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.per_call: list[Any] = []

    def query(self, query: str, parameters: Any = None, settings: Any = None) -> Any:
        self.per_call.append(settings)
        return self.inner.query(query, parameters=parameters, settings=settings)

    def query_arrow(self, query: str, parameters: Any = None, settings: Any = None) -> Any:
        self.per_call.append(settings)
        return self.inner.query_arrow(query, parameters=parameters, settings=settings)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("own_reader", [True, False], ids=["own reader", "shared client"])
def test_reads_run_with_the_read_settings_without_per_call_ones_on_a_reader_of_its_own(
    own_reader: bool,
) -> None:
    writer, reader = chdb_clients(chdb_path(), f"r_{uuid.uuid4().hex[:12]}")
    recorded = _Recording(reader if own_reader else writer)
    store = (
        ClickHouseStore(writer, reader=recorded)  # type: ignore[arg-type]
        if own_reader
        else ClickHouseStore(recorded)  # type: ignore[arg-type]
    )
    try:
        recorded.per_call.clear()  # the migrations' reads on a shared client
        wanted = [(True, True, "DISTINCT")]
        settings = "getSetting('final'), getSetting('join_use_nulls'), "
        settings += "getSetting('union_default_mode')"
        assert store.fetch(f"SELECT {settings}").rows == wanted
        table = store.fetch_arrow(f"SELECT {settings}")
        assert [tuple(r.values()) for r in table.to_pylist()] == wanted
        # a statement's own clause still wins (the sum tables' reads skip FINAL)
        assert store.fetch("SELECT getSetting('final') SETTINGS final = 0").rows == [(False,)]
        expected = [None, None] if own_reader else [READ_SETTINGS, READ_SETTINGS]
        assert recorded.per_call[:2] == expected
    finally:
        store.close()  # closes its reader too
        if not own_reader:
            reader.close()


def test_the_embedded_reader_reads_arrow_uncompressed() -> None:
    """In one process an Arrow read's compression is pure cost: chDB's reader asks for
    none; what it reads is unchanged."""
    writer, reader = chdb_clients(chdb_path(), f"a_{uuid.uuid4().hex[:12]}")
    try:
        setting = "getSetting('output_format_arrow_compression_method')"
        assert reader.query(f"SELECT {setting}").result_rows == [("none",)]
        assert writer.query(f"SELECT {setting}").result_rows == [("lz4_frame",)]
        query = "SELECT number, toString(number) AS s FROM numbers(100000)"
        assert reader.query_arrow(query).equals(writer.query_arrow(query))
    finally:
        writer.close()
        reader.close()
