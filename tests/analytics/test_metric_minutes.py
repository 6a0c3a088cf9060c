"""``metric_minutes`` on both stores: what the loader writes, the backfill of raw days
stored before the table, the compaction of repeated keys, their expiry with raw days,
and the Prometheus API reading history from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacklens.analytics.metric_minutes import (
    MinutesCompaction,
    backfill_metric_minutes,
)
from stacklens.promql.engine import PromQLEngine
from stacklens.retention.job import RetentionJob
from stacklens.retention.tiers import RetentionPolicy
from stacklens.schema import EventRow
from stacklens.testing.backends import BACKENDS, Backend, backend_id
from stacklens.testing.promql import DAY0, EVENTS, NOW, at, make_engine

S = 10**9
SERIES = "stack_name, family, l1, l2, l3"


@pytest.fixture(params=BACKENDS, ids=backend_id)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b: Backend = request.param(tmp_path)
    yield b
    b.store.close()


def minutes(b: Backend) -> list[tuple[Any, ...]]:
    """Every (minute, series..., value) summed per key, in order."""
    return b.store.fetch(
        f"SELECT minute, {SERIES}, sum(value) FROM metric_minutes "
        f"GROUP BY minute, {SERIES} ORDER BY minute, {SERIES}"
    ).rows


def row_count(b: Backend) -> int:
    return int(b.store.fetch("SELECT count(*) FROM metric_minutes").scalar())


def counters(b: Backend) -> dict[tuple[str, ...], float]:
    rows = b.store.fetch(f"SELECT {SERIES}, value FROM metric_counters").rows
    return {tuple(r[:5]): round(float(r[5]), 9) for r in rows}


def folded(b: Backend) -> dict[tuple[str, ...], float]:
    """The minutes summed per series: what the counters must be."""
    rows = b.store.fetch(f"SELECT {SERIES}, sum(value) FROM metric_minutes GROUP BY {SERIES}")
    return {tuple(r[:5]): round(float(r[5]), 9) for r in rows.rows}


def test_each_load_adds_its_events_per_minute_and_series(backend: Backend) -> None:
    backend.load(EVENTS[:3])
    backend.load(EVENTS[3:])
    assert folded(backend) == counters(backend)
    tokens = {
        (str(r[0])[11:16], r[1]): float(r[6])
        for r in minutes(backend)
        if r[2] == "tokens" and r[4] == "input"
    }
    # alpha's input tokens land in the minute of each call (testing.promql's dataset)
    assert tokens[("10:00", "alpha")] == 100.0
    assert tokens[("10:01", "alpha")] == 200.0
    assert tokens[("10:02", "alpha")] == 300.0
    assert tokens[("10:03", "beta")] == 1000.0


def test_backfill_fills_the_days_stored_before_the_table_and_only_those(
    backend: Backend,
) -> None:
    backend.load(EVENTS)
    expected = minutes(backend)
    # a store from before the table: the raw events and counters, no minute rows
    backend.store.apply_staged(_nothing(), ["DELETE FROM metric_minutes WHERE 1 = 1"])
    assert row_count(backend) == 0
    days = backfill_metric_minutes(backend.store)
    assert [d.isoformat() for d in days] == ["2026-01-14", "2026-01-15"]
    assert minutes(backend) == expected
    assert backfill_metric_minutes(backend.store) == []  # every day has its rows
    assert minutes(backend) == expected


def test_backfill_after_a_crash_part_way_writes_the_missing_days_once(
    backend: Backend,
) -> None:
    backend.load(EVENTS)
    expected = minutes(backend)
    # the first day's write landed, the second's did not
    second = f"minute >= {backend.store.dialect.ts_from_ns(str(DAY0))}"
    backend.store.apply_staged(_nothing(), [f"DELETE FROM metric_minutes WHERE {second}"])
    assert [d.isoformat() for d in backfill_metric_minutes(backend.store)] == ["2026-01-15"]
    assert minutes(backend) == expected


def _nothing() -> Any:
    from stacklens.store.base import StagedRows

    return StagedRows("nothing", (("n", "int"),), [])


def _calls(minute: int, n: int, first: int) -> list[EventRow]:
    return [
        EventRow(
            event_id=f"c-{minute}-{first + i}",
            ts=at(10, minute, 1 + i),
            stack_name="alpha",
            event_type="llm_call",
            received_ns=NOW,
            tokens_in=10,
            model="gpt-4o",
        )
        for i in range(n)
    ]


def test_compaction_folds_the_closed_minutes_and_keeps_every_sum(backend: Backend) -> None:
    # five loads touch minute 10:00, three touch 10:01: one row per series each
    for i in range(5):
        backend.load(_calls(0, 2, 2 * i))
    for i in range(3):
        backend.load(_calls(1, 1, i))
    before, rows_before = minutes(backend), row_count(backend)
    MinutesCompaction(backend.store).run_once()
    assert minutes(backend) == before  # sums unchanged
    newest = [r for r in before if str(r[0])[11:16] == "10:01"]
    if backend.name == "duckdb":
        # 10:00 folded to a row a key; 10:01 (the newest: still filling) left as it was
        closed = len(before) - len(newest)
        assert row_count(backend) == closed + 3 * len(newest) < rows_before
    else:  # ClickHouse: its SummingMergeTree merges fold them; nothing is run
        assert MinutesCompaction(backend.store)._statements == []
    assert folded(backend) == counters(backend)


def test_minute_rows_expire_with_their_raw_day(backend: Backend) -> None:
    backend.load(EVENTS)
    # 7 days after the 15th ends: the 14th and the 15th are both past retention...
    report = RetentionJob(backend.store, RetentionPolicy.build({})).run_once(DAY0 + 8 * 86400 * S)
    assert report.error is None
    assert row_count(backend) == 0


def test_minute_rows_of_a_kept_day_stay(backend: Backend) -> None:
    backend.load(EVENTS)
    before = minutes(backend)
    # ...at the end of the 21st only the 14th is: its minute rows go, the 15th's stay
    report = RetentionJob(backend.store, RetentionPolicy.build({})).run_once(DAY0 + 7 * 86400 * S)
    assert report.error is None
    assert minutes(backend) == [r for r in before if str(r[0]).startswith("2026-01-15")]


def test_the_history_of_a_minute_step_comes_from_the_minutes(backend: Backend) -> None:
    """Dropping the raw days (not through retention: the minute rows stay) leaves a
    1-minute-step answer as it was, and takes a 15 s step's history away: the first
    reads ``metric_minutes``, the second the raw events."""
    backend.load(EVENTS)
    engine: PromQLEngine = make_engine(backend)
    # alpha's series began the day before: no series starts inside the window (one
    # that does is read on the hub's 15 s grid, to know where)
    query = 'increase(opencode_tokens_total{direction="input",stack_name="alpha"}[5m])'

    def answer(step_ms: int) -> dict[str, list[Any]]:
        data = engine.range(query, at(10, 0) // 10**6, at(10, 10) // 10**6, step_ms, None)
        return {s["metric"]["stack_name"]: s["values"] for s in data["result"]}

    by_minute, fine = answer(60_000), answer(15_000)
    assert by_minute["alpha"] == [p for p in fine["alpha"] if p[0] % 60 == 0]
    for partition in backend.store.partitions("events"):
        backend.store.drop_day("events", partition.day)
    assert answer(60_000) == by_minute
    assert answer(15_000) != fine


def test_a_histograms_count_sums_its_bounds_within_each_minute(backend: Backend) -> None:
    """Two alpha calls in one minute, in different duration bounds: the 1-minute step
    (minute rows summed over the bounds in SQL) counts both, as the 15 s step (raw
    events) does, and keeps doing so from the minute rows alone."""
    quick, slow = (
        EventRow(
            event_id=f"q{i}",
            ts=at(10, 4, second),
            stack_name="alpha",
            event_type="llm_call",
            received_ns=NOW,
            session_id="s-alpha",
            model="gpt-4o",
            provider="openai",
            duration_ms=duration,
            success=True,
        )
        for i, (second, duration) in enumerate([(5, 300.0), (35, 8000.0)])
    )
    backend.load([*EVENTS, quick, slow])
    engine: PromQLEngine = make_engine(backend)
    query = 'increase(opencode_response_duration_seconds_count{stack_name="alpha"}[5m])'

    def answer(step_ms: int) -> list[Any]:
        data = engine.range(query, at(10, 0) // 10**6, at(10, 10) // 10**6, step_ms, None)
        (series,) = data["result"]
        return list(series["values"])

    by_minute, fine = answer(60_000), answer(15_000)
    assert by_minute == [p for p in fine if p[0] % 60 == 0]
    # the window's samples are on its edges (no extrapolation): at 10:04 the three calls
    # of 10:00-10:03, at 10:05 those and both of 10:04 (one would be 4)
    values = dict(by_minute)
    assert (values[at(10, 4) // S], values[at(10, 5) // S]) == ("3", "5")
    for partition in backend.store.partitions("events"):
        backend.store.drop_day("events", partition.day)
    assert answer(60_000) == by_minute
