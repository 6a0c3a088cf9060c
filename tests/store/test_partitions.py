"""The embedded store's day partitions (issue 14): each raw stream is one table per UTC
day of event time under a view with the stream's name; dropping a day drops its table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from stacklens.analytics.rollups import ddl_statements, load_statements
from stacklens.schema import EventRow, MetricRow
from stacklens.store.base import EventQuery
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing.backends import Backend, write_segment

S = 10**9
DAY = 86400 * S
DAY0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z
JAN15 = dt.date(2026, 1, 15)


def ev(event_id: str, ts: int, received_ns: int = DAY0 + 12 * 3600 * S) -> EventRow:
    return EventRow(
        event_id=event_id,
        ts=ts,
        stack_name="alpha",
        event_type="log",
        message="x" * 40,
        received_ns=received_ns,
    )


def open_store(path: Path, **options: str) -> DuckDBStore:
    return DuckDBStore(
        path,
        extra_ddl=ddl_statements(),
        load_hooks={"events": load_statements()},
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def backend(tmp_path: Path) -> Backend:
    return Backend("duckdb", open_store(tmp_path / "s.duckdb"), tmp_path)


def tables(store: DuckDBStore) -> list[str]:
    found = store.fetch(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'events') "
        "ORDER BY table_name"
    )
    return [name for (name,) in found.rows]


def test_rows_land_in_their_days_table_late_ones_too(backend: Backend) -> None:
    backend.load([ev("a", DAY0 + 3600 * S), ev("b", DAY0 + DAY + 60 * S)])
    # Received on the 16th, happened on the 14th at 23:59:59.999: its day is the 14th.
    backend.load([ev("late", DAY0 - 1, received_ns=DAY0 + DAY + 120 * S)])
    store = backend.store
    assert isinstance(store, DuckDBStore)
    assert tables(store) == ["events_p20260114", "events_p20260115", "events_p20260116"]
    by_table = {
        name: sorted(r[0] for r in store.fetch(f"SELECT event_id FROM {name}").rows)
        for name in tables(store)
    }
    assert by_table == {
        "events_p20260114": ["late"],
        "events_p20260115": ["a"],
        "events_p20260116": ["b"],
    }
    kind = store.fetch(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'events'"
    )
    assert kind.scalar() == "VIEW"
    assert {e["event_id"] for e in store.query_events(EventQuery())} == {"a", "b", "late"}


def test_a_retried_event_is_still_deduplicated_across_days(backend: Backend) -> None:
    backend.load([ev("a", DAY0 + 3600 * S), ev("b", DAY0 - DAY)])
    again = backend.load([ev("a", DAY0 + 3600 * S), ev("b", DAY0 - DAY), ev("c", DAY0)])
    assert (again.read, again.inserted) == (3, 1)
    assert backend.store.count_events() == 3


def test_drop_day_drops_the_table_not_rows(backend: Backend) -> None:
    backend.load([ev("a", DAY0), ev("b", DAY0 + DAY), ev("c", DAY0 + DAY + 1)])
    store = backend.store
    assert isinstance(store, DuckDBStore)
    store.drop_day("events", JAN15)
    assert tables(store) == ["events_p20260116"]
    assert store.count_events() == 2
    assert [(p.day, p.rows) for p in store.partitions("events")] == [(dt.date(2026, 1, 16), 2)]
    # The day can come back: a late event for it after the drop gets a new table.
    backend.load([ev("d", DAY0 + 5)])
    assert tables(store) == ["events_p20260115", "events_p20260116"]


def test_partitions_lists_days_rows_and_bytes(backend: Backend, tmp_path: Path) -> None:
    assert backend.store.partitions("events") == []
    backend.load([ev(f"e{i}", DAY0 + i * S) for i in range(300)] + [ev("y", DAY0 - DAY)])
    backend.load(
        [MetricRow(point_id="p", ts=DAY0, stack_name="a", name="m", kind="gauge", value=1.0)],
        "metrics",
    )
    store = backend.store
    assert isinstance(store, DuckDBStore)
    with store.writer() as con:
        con.execute("CHECKPOINT")
    found = store.partitions("events")
    assert [(p.day, p.rows) for p in found] == [(dt.date(2026, 1, 14), 1), (JAN15, 300)]
    assert all(p.bytes > 0 for p in found)
    assert [(p.day, p.rows) for p in store.partitions("metrics")] == [(JAN15, 1)]


#: The events table as the store created it before day partitions (previous code's DDL).
OLD_EVENTS_DDL = """CREATE TABLE IF NOT EXISTS events (event_id VARCHAR, ts TIMESTAMP,
stack_name VARCHAR, event_type VARCHAR, session_id VARCHAR, trace_id VARCHAR,
span_id VARCHAR, parent_span_id VARCHAR, user_id VARCHAR, service VARCHAR, level VARCHAR,
message VARCHAR, role VARCHAR, model VARCHAR, provider VARCHAR, agent VARCHAR, tool VARCHAR,
tokens_in BIGINT, tokens_out BIGINT, tokens_cache_read BIGINT, tokens_cache_write BIGINT,
tokens_reasoning BIGINT, cost_usd DOUBLE, duration_ms DOUBLE, success BOOLEAN,
error_code VARCHAR, status_code BIGINT, method VARCHAR, path VARCHAR, content_hash VARCHAR,
content_length BIGINT, word_count BIGINT, score DOUBLE, comment VARCHAR, content VARCHAR,
command VARCHAR, file_path VARCHAR, url VARCHAR, args_hash VARCHAR, attributes JSON,
received_ns BIGINT)"""


def test_a_file_from_before_partitions_is_migrated_on_open(tmp_path: Path) -> None:
    from stacklens.store import sql
    from stacklens.store.columns import EVENTS

    assert OLD_EVENTS_DDL.replace("\n", " ") == sql.table_ddl(EVENTS)  # really the old DDL
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(OLD_EVENTS_DDL)
    con.execute(
        "INSERT INTO events (event_id, ts, stack_name, event_type, received_ns) VALUES "
        "('a', '2026-01-14 23:59:59.999999', 's', 'log', 1), ('b', '2026-01-15', 's', 'log', 1),"
        " ('c', '2026-01-15 08:00', 's', 'log', 1)"
    )
    con.close()
    store = open_store(path)
    assert tables(store) == ["events_p20260114", "events_p20260115"]
    assert [(p.day, p.rows) for p in store.partitions("events")] == [
        (dt.date(2026, 1, 14), 1),
        (JAN15, 2),
    ]
    assert sorted(e["event_id"] for e in store.query_events(EventQuery())) == ["a", "b", "c"]
    store.close()
    store = open_store(path)  # opening again changes nothing
    assert store.count_events() == 3
    store.close()


def _file_bytes(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def test_the_file_stops_growing_when_old_days_are_dropped(tmp_path: Path) -> None:
    """40 days of 20 k events (a third of each day's load late from the day before),
    keeping 7 days: the file at day 30 is no larger than 1.25 x the file at day 15 (a
    row DELETE instead leaves the scattered rows' space behind and the file grows)."""
    path = tmp_path / "steady.duckdb"
    # A small checkpoint threshold, so checkpoints (which reuse freed blocks) happen
    # at this small rate as they do at a real one.
    store = open_store(path, checkpoint_threshold="4MB")
    backend = Backend("duckdb", store, tmp_path)
    start = dt.date(2026, 1, 1)
    sizes = {}
    for n in range(40):
        day_ns = DAY0 + (n - 14) * DAY
        # A third of each load arrived late, from the day before: in a table of rows
        # that a day's rows are scattered through.
        rows = [
            ev(f"d{n}-{i}", day_ns + i * 4 * S - (DAY if i % 3 == 0 else 0)) for i in range(20000)
        ]
        path_n = write_segment(tmp_path, n + 1, rows)
        store.load_segments("events", [(n + 1, path_n)])
        path_n.unlink()
        old = start + dt.timedelta(days=n - 7)
        store.drop_day("events", old)
        sizes[n + 1] = _file_bytes(path)
    assert sizes[30] <= 1.25 * sizes[15], sizes
    assert backend.store.checkpoint("events") == 40
    assert len(store.partitions("events")) == 7
    store.close()


def test_a_windowed_read_binds_only_the_days_it_covers(backend: Backend) -> None:
    from stacklens.store.dialect import DUCKDB, Params

    backend.load([ev("a", DAY0 + 3600 * S), ev("b", DAY0 + DAY + 60 * S)])
    backend.load([ev("c", DAY0 + 2 * DAY + 60 * S)])

    def ids(since: int | None, until: int | None) -> list[str]:
        p = Params(DUCKDB)
        # No WHERE on purpose: what comes back is what the day tables hold.
        statement = f"SELECT event_id FROM {p.raw_source('events', since, until)} ORDER BY 1"
        return [row[0] for row in backend.store.fetch(statement, p.values).rows]

    assert ids(DAY0 + DAY, DAY0 + 2 * DAY) == ["b"]
    assert ids(DAY0 + DAY + 1, None) == ["b", "c"]  # a partly covered day is read whole
    assert ids(None, DAY0 + DAY) == ["a"]
    assert ids(None, None) == ["a", "b", "c"]
    assert ids(DAY0 + 10 * DAY, None) == []  # no day covered: the (empty) rest of the view
