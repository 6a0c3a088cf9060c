"""The embedded store's Arrow append path (issue 19): the same rows loaded as an Arrow
batch end up stored exactly as when loaded from a spool segment — rows, day tables,
rollups, checkpoint — and a retried batch is deduplicated the same way."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from stacklens.analytics.rollups import ROLLUP_TABLES, ddl_statements, load_statements
from stacklens.schema import EventRow
from stacklens.store.arrow_rows import rows_arrow
from stacklens.store.base import RejectedDataError
from stacklens.store.columns import EVENTS
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing.backends import write_segment

S = 10**9
DAY0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z
RECEIVED = DAY0 + 12 * 3600 * S


def rows() -> list[EventRow]:
    return [
        EventRow(
            event_id=f"e{i}",
            ts=DAY0 + i * 3600 * S * 5,  # across two days
            stack_name="alpha" if i % 2 else "beta",
            event_type="llm_call",
            session_id=f"s{i % 3}",
            model="gpt-4o-mini",
            tokens_in=100 + i,
            tokens_out=i,
            cost_usd=0.25 * i,
            duration_ms=12.5,
            success=i % 3 != 0,
            attributes='{"k": "v"}',
            received_ns=RECEIVED,
        )
        for i in range(8)
    ]


def open_store(path: Path) -> DuckDBStore:
    return DuckDBStore(path, extra_ddl=ddl_statements(), load_hooks={"events": load_statements()})


def stored(store: DuckDBStore) -> dict[str, list[tuple[object, ...]]]:
    names = ", ".join(c.name for c in EVENTS.columns)
    out = {"events": store.fetch(f"SELECT {names} FROM events ORDER BY event_id").rows}
    for table in ROLLUP_TABLES:
        out[table.name] = sorted(store.fetch(f"SELECT * FROM {table.name}").rows, key=repr)
    out["days"] = [(p.day, p.rows) for p in store.partitions("events")]
    return out


def test_an_arrow_batch_is_stored_as_the_same_rows_from_a_segment(tmp_path: Path) -> None:
    from_segment = open_store(tmp_path / "ndjson.duckdb")
    from_arrow = open_store(tmp_path / "arrow.duckdb")
    segment = write_segment(tmp_path, 7, rows())
    assert from_segment.load_segments("events", [(7, segment)]).inserted == 8
    result = from_arrow.load_arrow("events", rows_arrow(EVENTS, rows()), checkpoint=7)
    assert (result.read, result.inserted) == (8, 8)
    expected = stored(from_segment)
    assert len(expected["days"]) == 2
    assert any(expected[t.name] for t in ROLLUP_TABLES)
    assert stored(from_arrow) == expected
    assert from_arrow.checkpoint("events") == 7


def test_a_retried_arrow_batch_is_deduplicated(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.duckdb")
    store.load_arrow("events", rows_arrow(EVENTS, rows()), checkpoint=1)
    extra = EventRow(event_id="new", ts=DAY0, stack_name="alpha", event_type="log")
    again = store.load_arrow("events", rows_arrow(EVENTS, [*rows(), extra]), checkpoint=2)
    assert (again.read, again.inserted) == (9, 1)
    assert store.checkpoint("events") == 2
    # Rows and rollups as if each row had been loaded once.
    once = open_store(tmp_path / "once.duckdb")
    once.load_arrow("events", rows_arrow(EVENTS, [*rows(), extra]), checkpoint=2)
    assert stored(store) == stored(once)


def test_rows_without_an_event_time_are_refused_whole(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.duckdb")
    no_time = pa.array([None] * 8, type=pa.int64())
    broken = rows_arrow(EVENTS, rows()).set_column(
        EVENTS.columns.index(("ts", "timestamp")), "ts", no_time
    )
    with pytest.raises(RejectedDataError):
        store.load_arrow("events", broken, checkpoint=1)
    assert store.count_events() == 0
    assert store.checkpoint("events") == 0
