"""The retention job on every store backend (DuckDB, ClickHouse through chDB): whole
raw days go, a stack with a shorter period has its rows trimmed from the days others
keep, and the rollups expire by their own tiers. Figures worked out by hand below."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stacklens.retention.job import RetentionJob
from stacklens.retention.tiers import RetentionPolicy
from stacklens.schema import EventRow
from stacklens.testing.backends import BACKENDS, Backend, BackendFactory

S = 10**9
DAY = 86400 * S
START = 1_768_435_200 * S  # 2026-01-15T00:00:00Z: day 0
NOW = START + 10 * DAY + 3600 * S  # day 10, 01:00


@pytest.fixture(params=BACKENDS, ids=lambda f: f.__name__)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    factory: BackendFactory = request.param
    made = factory(tmp_path)
    yield made
    made.store.close()


def _day(day: int, stack: str) -> list[EventRow]:
    """Two priced calls at noon of ``day`` in session ``<stack>-<day>``."""
    return [
        EventRow(
            event_id=f"{stack}-{day}-{n}",
            ts=START + day * DAY + 12 * 3600 * S + n * S,
            received_ns=START + day * DAY + 12 * 3600 * S,
            stack_name=stack,
            event_type="llm_call",
            session_id=f"{stack}-{day}",
            user_id="u",
            model="m",
            tokens_in=10,
            cost_usd=0.5,
        )
        for n in range(2)
    ]


def test_days_trims_and_rollups_expire_on_every_backend(backend: Backend) -> None:
    for day in range(10):
        backend.load(_day(day, "alpha") + _day(day, "beta"))
    policy = RetentionPolicy.build(
        {"events": "3d", "rollups": "5d", "sessions": "5d", "billing": "7y"},
        {"beta": {"events": "1d"}},
    )
    report = RetentionJob(backend.store, policy, clock=lambda: NOW).run_once()
    assert report.error is None
    # events: alpha keeps days ending after day 7 00:00 (NOW - 3 d, floored to the
    # day), beta after day 9 00:00: days 0-6 go whole, beta's rows leave days 7 and 8.
    assert report.dropped_days == tuple(f"events/2026-01-{15 + d}" for d in range(7))
    assert report.trimmed_days == ("events/2026-01-22", "events/2026-01-23")
    store = backend.store
    left = store.fetch(
        "SELECT stack_name, count(*) FROM events GROUP BY stack_name ORDER BY stack_name"
    ).rows
    assert left == [("alpha", 6), ("beta", 2)]  # alpha days 7-9, beta day 9
    # rollups 5 d: hours before day 5 01:00 go (noon of days 0-4): days 5-9 stay,
    # 2 stacks x 2 events each.
    assert store.fetch("SELECT sum(events) FROM usage_hourly").scalar() == 20
    # sessions 5 d: the sessions last active before day 5 01:00 go: 5 days x 2 stacks.
    assert store.fetch("SELECT count(*) FROM session_summaries").scalar() == 10
    # billing 7 y: nothing goes; 10 days x 2 stacks x 2 calls.
    assert store.fetch("SELECT sum(calls), sum(cost_usd) FROM billing_daily").rows == [(40, 20.0)]
    # A second run finds nothing more to do and changes nothing.
    again = RetentionJob(backend.store, policy, clock=lambda: NOW).run_once()
    assert (again.error, again.dropped_days) == (None, ())
    assert store.fetch("SELECT sum(events) FROM usage_hourly").scalar() == 20
