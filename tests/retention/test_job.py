"""The retention job: whole raw days past retention go, per-stack periods, rollups,
sessions and billing expire on their own tiers, and a day waits for the loader."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from stacklens.analytics.analytics_service import Analytics
from stacklens.retention.expiry import raw_days
from stacklens.retention.job import RetentionJob
from stacklens.retention.tiers import RetentionPolicy
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import SEED_RETENTION, ManualClock
from stacklens.testing.analytics import install_rollups
from stacklens.testing.retention import (
    DAY_NS,
    START_NS,
    day_figures,
    day_points,
    day_traffic,
    load_segment,
    table_counts,
)

START = START_NS
load = load_segment


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    return install_rollups(tmp_path / "events.duckdb")


def fill(store: DuckDBStore, tmp: Path, days: int, stacks: tuple[str, ...] = ("alpha",)) -> None:
    for day in range(days):
        for stack in stacks:
            load(store, tmp, list(day_traffic(START + day * DAY_NS, 12, stack=stack)))
            load(store, tmp, list(day_points(START + day * DAY_NS, 5, stack=stack)), "metrics")


def first_days(store: DuckDBStore) -> dict[str, str]:
    """Each stack's first raw day still stored."""
    statement = "SELECT stack_name, min(ts)::DATE::VARCHAR FROM events GROUP BY 1"
    return {str(k): str(v) for k, v in store.fetch(statement).rows}


def days_of(store: DuckDBStore, table: str = "events") -> list[str]:
    return sorted(table_counts(store, table, "ts"))


def test_whole_days_past_events_retention_go_and_rollups_still_answer(
    store: DuckDBStore, tmp_path: Path
) -> None:
    fill(store, tmp_path, 10)
    clock = ManualClock(START + 10 * DAY_NS + 3600 * 10**9)  # day 10, 01:00
    analytics = Analytics(store, clock=clock)
    before = [day_figures(analytics, START + d * DAY_NS, None) for d in range(10)]
    job = RetentionJob(store, RetentionPolicy.build({}), clock=clock)

    report = job.run_once()

    assert report.error is None
    # Day 10 01:00 minus 7 d is day 3 01:00: days 0..2 have ended before it, day 3 has not.
    assert days_of(store) == ["2026-06-04", *[f"2026-06-{d:02d}" for d in range(5, 11)]]
    assert days_of(store, "metric_points") == days_of(store)
    assert report.dropped_days == (
        "events/2026-06-01",
        "events/2026-06-02",
        "events/2026-06-03",
        "metrics/2026-06-01",
        "metrics/2026-06-02",
        "metrics/2026-06-03",
    )
    after = [day_figures(analytics, START + d * DAY_NS, None) for d in range(10)]
    assert after == before
    assert before[0]["usage"] and before[0]["costs"] and before[0]["sessions"]
    assert job.run_once().dropped_days == ()  # nothing left to do


def test_a_stack_kept_longer_keeps_its_rows_of_a_day_the_others_lose(
    store: DuckDBStore, tmp_path: Path
) -> None:
    fill(store, tmp_path, 10, stacks=("alpha", "acme"))
    now = START + 10 * DAY_NS + 3600 * 10**9
    policy = RetentionPolicy.build({}, {"acme": {"events": "9d"}})
    job = RetentionJob(store, policy, clock=ManualClock(now))

    report = job.run_once()

    first = first_days(store)
    assert first["alpha"] == "2026-06-04"  # 7 d
    assert first["acme"] == "2026-06-02"  # 9 d: day 0 gone whole, days 1-2 lose alpha's rows
    assert "events/2026-06-01" in report.dropped_days
    assert set(report.trimmed_days) >= {"events/2026-06-02", "events/2026-06-03"}


def test_a_shorter_stack_loses_its_rows_before_the_default(
    store: DuckDBStore, tmp_path: Path
) -> None:
    fill(store, tmp_path, 10, stacks=("alpha", "brief"))
    policy = RetentionPolicy.build({}, {"brief": {"events": "2d"}})
    RetentionJob(store, policy, clock=ManualClock(START + 10 * DAY_NS)).run_once()
    first = first_days(store)
    assert first == {"alpha": "2026-06-04", "brief": "2026-06-09"}


def test_a_day_waits_while_the_spool_may_still_hold_its_rows(
    store: DuckDBStore, tmp_path: Path
) -> None:
    fill(store, tmp_path, 3)
    now = START + 12 * DAY_NS
    pending: list[int | None] = [START + 9 * DAY_NS]  # a row received on day 9 not loaded
    job = RetentionJob(
        store,
        RetentionPolicy.build({}),
        clock=ManualClock(now),
        pending_since={"events": lambda: pending[0]},
    )
    report = job.run_once()
    # Days 0-2 all ended more than 7 d ago, but an event of day 2 could be accepted
    # until its end + 7 d = day 10: with a row received on day 9 still in the spool,
    # day 2 may be incomplete and waits. Days 0 and 1 (accepted until day 9) go.
    assert days_of(store) == ["2026-06-03"]
    assert report.deferred_days == 1
    assert days_of(store, "metric_points") == []  # the metrics spool is empty
    pending[0] = None
    assert job.run_once().dropped_days == ("events/2026-06-03",)
    assert days_of(store) == []


def test_rollups_sessions_and_billing_expire_on_their_own_tiers(
    store: DuckDBStore, tmp_path: Path
) -> None:
    days = (0, 100, 300, 370)
    for day in days:
        load(store, tmp_path, list(day_traffic(START + day * DAY_NS, 12)))
    now = START + 371 * DAY_NS
    RetentionJob(store, RetentionPolicy.build({}), clock=ManualClock(now)).run_once()
    assert sorted(table_counts(store, "usage_hourly", "hour")) == ["2027-03-28", "2027-06-06"]
    # sessions by last activity: a year from day 371 reaches back to day 6
    assert sorted(table_counts(store, "session_summaries", "last_ts")) == [
        "2026-09-09",
        "2027-03-28",
        "2027-06-06",
    ]
    assert len(table_counts(store, "billing_daily", "day")) == 4  # 7 years
    assert raw_days(store, "events", now) == [dt.date(2027, 6, 6)]  # within 7 d


def test_the_job_thread_runs_on_its_interval_and_stops(store: DuckDBStore, tmp_path: Path) -> None:
    fill(store, tmp_path, 2)
    job = RetentionJob(
        store, RetentionPolicy.build({}), clock=ManualClock(START + 30 * DAY_NS), interval_s=0.05
    )
    job.start()
    try:
        from stacklens.testing import wait_until

        wait_until(lambda: job.last_run is not None and job.runs >= 2)
    finally:
        job.stop()
    assert not job.is_running
    assert days_of(store) == []
    assert job.days_dropped == 4


def test_a_run_that_dropped_days_gives_their_space_back(store: DuckDBStore, tmp_path: Path) -> None:
    fill(store, tmp_path, 3)
    wal = Path(str(store.path) + ".wal")
    assert wal.exists() and wal.stat().st_size > 0  # loads sit in the WAL (256 MB threshold)
    report = RetentionJob(
        store, RetentionPolicy.build({}), clock=ManualClock(START + 30 * DAY_NS)
    ).run_once()
    assert report.dropped_days and report.reclaimed
    assert not wal.exists() or wal.stat().st_size == 0
    nothing = RetentionJob(store, RetentionPolicy.build({}), clock=ManualClock(START)).run_once()
    assert not nothing.reclaimed  # nothing dropped: no checkpoint


def test_the_hub_runs_the_job_with_its_policy_and_stops_it(tmp_path: Path) -> None:
    from stacklens.testing import in_process_hub

    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("stacks:\n  acme:\n    retention: {events: 30d}\n")
    with in_process_hub(
        tmp_path / "data", clock=ManualClock(START), privacy_file=policy_file, **SEED_RETENTION
    ) as (
        hub,
        _,
    ):
        assert hub.retention.is_running
        assert hub.retention_policy.for_stack("acme").events == 30 * DAY_NS
        assert hub.retention.run_once().error is None
    assert not hub.retention.is_running
