"""400 simulated days of constant traffic through the real hub (HTTP ingest, spool,
loader, DuckDB store, rollups), with the retention job after each day: every tier
keeps exactly its period, the data directory stops growing, and the figures of a day
do not change when its raw events go."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest

from stacklens.analytics.queries import Filters
from stacklens.retention.guard import OutsideRetentionError
from stacklens.testing import SEED_RETENTION, ManualClock, in_process_hub
from stacklens.testing.retention import (
    DAY_NS,
    START_NS,
    day_figures,
    day_traffic,
    native_events,
    table_counts,
)

DAYS = 400
EVENTS_PER_DAY = 50


def day_name(index: int) -> str:
    return (dt.date(2026, 6, 1) + dt.timedelta(days=index)).isoformat()


def names(first: int, last: int) -> list[str]:
    return [day_name(i) for i in range(max(0, first), last + 1)]


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_four_hundred_days_of_traffic_keep_each_tier_for_its_period(tmp_path: Path) -> None:
    clock = ManualClock(START_NS)
    data = tmp_path / "data"
    figures: dict[int, Any] = {}
    sizes: dict[int, int] = {}
    started = time.monotonic()
    # The job's own thread never fires here (its interval is days of real time): the
    # test runs it after each simulated day, as the thread would. Alerting is off: its
    # evaluator would only compete for the CPU.
    hub_options: dict[str, Any] = {"retention_interval_s": 10**6, "alerting_enabled": False}
    with in_process_hub(data, clock=clock, **{**SEED_RETENTION, **hub_options}) as (hub, client):
        for d in range(DAYS):
            day_start = START_NS + d * DAY_NS
            clock.now_ns = day_start + DAY_NS + 1800 * 10**9  # half an hour after the day
            events = native_events(day_traffic(day_start, EVENTS_PER_DAY))
            response = client.post("/v1/events", json=events)
            assert response.json()["accepted"] == EVENTS_PER_DAY, response.text
            hub.flush()
            report = hub.retention.run_once()
            assert report.error is None
            assert report.deferred_days == 0
            figures[d] = day_figures(hub.analytics, day_start, None)
            assert figures[d]["usage"] and figures[d]["sessions"] and figures[d]["billing"]

            store = hub.store
            # Raw events: the 7 days whose end is less than 7 d ago.
            raw = table_counts(store, "events", "ts")
            assert sorted(raw) == names(d - 6, d), f"day {d}"
            assert set(raw.values()) == {EVENTS_PER_DAY}
            # Rollups: 90 days; sessions: a year (by last activity); billing: all of it.
            assert sorted(table_counts(store, "usage_hourly", "hour")) == names(d - 89, d)
            assert sorted(table_counts(store, "session_summaries", "last_ts")) == names(d - 364, d)
            assert sorted(table_counts(store, "billing_daily", "day")) == names(0, d)

            # The figures of a day whose raw events just went, and of one whose raw
            # events went long ago, are the ones computed when it was loaded.
            for back in (7, 89) if d % 10 == 0 else (7,):
                if d - back >= 0:
                    again = day_figures(hub.analytics, START_NS + (d - back) * DAY_NS, None)
                    assert again == figures[d - back], f"day {d - back} at day {d}"
            if d >= 7:
                expired = START_NS + (d - 7) * DAY_NS
                with pytest.raises(OutsideRetentionError, match=r"events retention \(7d\)"):
                    hub.analytics.latency(Filters(since_ns=expired, until_ns=expired + DAY_NS))
            if d in (20, 60):
                sizes[d] = dir_bytes(data)
    elapsed = time.monotonic() - started
    assert sizes[60] <= 1.25 * sizes[20], sizes
    print(f"sizes {sizes}, {elapsed:.1f} s")
