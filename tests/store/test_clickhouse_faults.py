"""Faults at the ClickHouse adapter (chDB through clickhouse-connect): whatever call
fails — before it reached the server, after it committed, or by a timeout while the
server went on — a retry of the same segments leaves every row stored once and every
rollup figure exact."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from stacklens.analytics.rollups import ddl_statements, load_statements
from stacklens.schema import EventRow
from stacklens.store.clickhouse import ClickHouseStore
from stacklens.store.clickhouse_clients import chdb_clients
from stacklens.store.clickhouse_dialect import CLICKHOUSE
from stacklens.testing.backends import chdb_path, write_segment
from stacklens.testing.clickhouse_faults import FaultyClient, InjectedFault, Mode

S = 10**9
T0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z


def _event(n: int) -> EventRow:
    return EventRow(
        event_id=f"f{n:03d}",
        ts=T0 + n * 60 * S,
        received_ns=T0 + n * 60 * S,
        stack_name="alpha",
        event_type="llm_call",
        session_id="s1",
        user_id="u1",
        model="m",
        provider="p",
        tokens_in=100,
        cost_usd=0.5,
    )


@pytest.fixture
def faulty(
    tmp_path: Path,
) -> Iterator[tuple[ClickHouseStore, FaultyClient, list[tuple[int, Path]]]]:
    writer, reader = chdb_clients(chdb_path(), f"f_{uuid.uuid4().hex[:12]}")
    client = FaultyClient(writer)
    store = ClickHouseStore(
        client,
        reader=reader,
        extra_ddl=ddl_statements(CLICKHOUSE),
        load_hooks={"events": load_statements(CLICKHOUSE)},
    )
    # 12 events in two segments of 6: each a call of 100 tokens in and $0.50.
    segments = [
        (
            number,
            write_segment(
                tmp_path, number, [_event(n) for n in range(6 * number - 5, 6 * number + 1)]
            ),
        )
        for number in (1, 2)
    ]
    yield store, client, segments
    store.close()


def _figures(store: ClickHouseStore) -> dict[str, object]:
    one = lambda sql: store.fetch(sql).rows[0]  # noqa: E731
    return {
        "events": store.count_events(),
        "usage_hourly": one("SELECT sum(events), sum(tokens_in), sum(cost_usd) FROM usage_hourly"),
        "billing_daily": one("SELECT sum(calls), sum(tokens_in), sum(cost_usd) FROM billing_daily"),
        "session": one("SELECT events, llm_calls, tokens_in FROM session_summaries"),
        "last_seen": one("SELECT events FROM stack_last_seen"),
        "counters": one(
            "SELECT sum(value) FROM metric_counters WHERE family = 'events' AND l1 = 'llm_call'"
        ),
        "minutes": one(
            "SELECT sum(value), count(DISTINCT minute) FROM metric_minutes "
            "WHERE family = 'events' AND l1 = 'llm_call'"
        ),
        "checkpoint": store.checkpoint("events"),
    }


EXACT = {
    "events": 12,
    "usage_hourly": (12, 1200, 6.0),
    "billing_daily": (12, 1200, 6.0),
    "session": (12, 12, 1200),
    "last_seen": (12,),
    "counters": (12.0,),
    "minutes": (12.0, 12),  # one event a minute
    "checkpoint": 2,
}

CASES: list[tuple[Mode, str]] = [
    ("before", "insert events"),
    ("after", "insert events"),
    ("timeout", "insert events"),
    ("before", "insert staging"),
    ("after", "INSERT INTO usage_hourly__parts"),
    ("timeout", "INSERT INTO billing_daily__parts"),
    ("after", "INSERT INTO session_summaries__parts"),
    ("after", "INSERT INTO metric_labels__parts"),
    ("after", "INSERT INTO metric_counters__parts"),
    ("before", "CREATE TEMPORARY TABLE staged_minutes"),
    ("after", "INSERT INTO metric_minutes"),
    ("timeout", "INSERT INTO metric_minutes"),
    ("after", "INSERT INTO spool_checkpoints"),
    ("timeout", "INSERT INTO spool_checkpoints"),
]


@pytest.mark.parametrize(("mode", "target"), CASES, ids=[f"{m}-{t.split()[-1]}" for m, t in CASES])
def test_a_retry_after_a_fault_loses_and_doubles_nothing(
    faulty: tuple[ClickHouseStore, FaultyClient, list[tuple[int, Path]]], mode: Mode, target: str
) -> None:
    store, client, segments = faulty
    client.arm(mode, target)
    with pytest.raises((InjectedFault, TimeoutError)):
        store.load_segments("events", segments)
    assert client.fired == [(mode, client.fired[0][1])] and target in client.fired[0][1]
    retried = store.load_segments("events", segments)  # what the loader does next cycle
    assert retried.read == 12
    assert _figures(store) == EXACT
    # The spool replays the same segments once more (a crash before it deleted them).
    assert store.load_segments("events", segments).inserted == 0
    assert _figures(store) == EXACT


def test_a_retry_by_a_version_with_a_hook_added_doubles_nothing(
    faulty: tuple[ClickHouseStore, FaultyClient, list[tuple[int, Path]]],
) -> None:
    """A batch fails after some of its hooks landed; the hub is upgraded to a version
    with one hook more, ahead of the others, and retries: each hook that landed is
    dropped by its token, which names its statement, not its place."""
    store, client, segments = faulty
    client.arm("after", "INSERT INTO metric_counters__parts")
    with pytest.raises(InjectedFault):
        store.load_segments("events", segments)
    hooks = store._load_hooks["events"]
    extra = "INSERT INTO stack_last_seen__parts (stack_name, first_ts, last_ts, events) "
    extra += "SELECT stack_name, min(ts), max(ts), 0 FROM staging GROUP BY stack_name"
    upgraded = ClickHouseStore(
        client, reader=store._reader, load_hooks={"events": [extra, *(h for _, h in hooks)]}
    )
    assert upgraded.load_segments("events", segments).read == 12
    assert _figures(store) == EXACT


def test_without_a_fault_the_figures_are_the_same(
    faulty: tuple[ClickHouseStore, FaultyClient, list[tuple[int, Path]]],
) -> None:
    store, _, segments = faulty
    assert store.load_segments("events", segments).inserted == 12
    assert _figures(store) == EXACT


@pytest.mark.parametrize(
    ("mode", "target"),
    [
        ("after", "ALTER TABLE billing_daily__parts UPDATE"),
        ("timeout", "ALTER TABLE billing_adjustments UPDATE"),
        ("before", "DELETE FROM session_summaries__parts"),
    ],
    ids=["after-billing-move", "timeout-adjustments", "before-sessions"],
)
def test_an_erasure_run_again_after_a_fault_is_exact(
    faulty: tuple[ClickHouseStore, FaultyClient, list[tuple[int, Path]]], mode: Mode, target: str
) -> None:
    from stacklens.retention.erasure import ERASED_USER, erasure_steps

    store, client, segments = faulty
    store.load_segments("events", segments)
    other = msgspec.structs.replace(_event(99), event_id="other", user_id="u2")
    store.load_segments("events", [(3, write_segment(segments[0][1].parent, 3, [other]))])
    steps = erasure_steps(store.dialect, ("u1",))
    client.arm(mode, target)
    with pytest.raises((InjectedFault, TimeoutError)):
        store.erase_user(("u1",), steps)
    store.erase_user(("u1",), steps)  # the caller's retry: every step is idempotent
    billing = store.fetch(
        "SELECT user_id, sum(calls), sum(cost_usd) FROM billing_daily GROUP BY 1 ORDER BY 1"
    )
    # u1's 12 calls of $0.50 under the erased user, once; u2's call untouched.
    assert billing.rows == [("u2", 1, 0.5), (ERASED_USER, 12, 6.0)]
    assert store.count_events() == 1
    # s1's summary was u1's (its first user): it goes whole, as on DuckDB.
    assert store.fetch("SELECT count(*) FROM session_summaries").scalar() == 0


@pytest.mark.parametrize(
    ("mode", "target"),
    [
        ("after", "INSERT INTO usage_hourly__parts"),
        ("timeout", "INSERT INTO session_summaries__parts"),
        ("after", "INSERT INTO events"),
    ],
    ids=["after-hourly", "timeout-sessions", "after-events-rewrite"],
)
def test_a_backfill_run_again_after_a_fault_is_exact(
    faulty: tuple[ClickHouseStore, FaultyClient, list[tuple[int, Path]]], mode: Mode, target: str
) -> None:
    from stacklens.analytics.backfill import backfill
    from stacklens.analytics.pricing import PriceOverride, Pricer

    store, client, segments = faulty
    unpriced = msgspec.structs.replace(_event(50), event_id="x1", cost_usd=None, tokens_out=0)
    store.load_segments("events", [(1, write_segment(segments[0][1].parent, 7, [unpriced]))])
    pricer = Pricer({"p/m": PriceOverride(input_per_mtok=1000.0, output_per_mtok=0.0)})
    client.arm(mode, target)
    with pytest.raises((InjectedFault, TimeoutError)):
        backfill(store, pricer, T0)
    backfill(store, pricer, T0)  # run again by the operator
    # x1: 100 tokens in at $1000 / M = $0.10, added once to every rollup.
    assert store.fetch("SELECT sum(cost_usd) FROM usage_hourly").scalar() == pytest.approx(0.1)
    assert store.fetch("SELECT sum(cost_usd) FROM billing_daily").scalar() == pytest.approx(0.1)
    assert store.fetch("SELECT cost_usd FROM session_summaries").scalar() == pytest.approx(0.1)
    assert store.fetch("SELECT cost_usd FROM events").rows == [(pytest.approx(0.1),)]
    assert backfill(store, pricer, T0).repriced == 0  # nothing left to change
