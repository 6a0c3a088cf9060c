"""Figures computed from raw events refuse a window reaching past raw retention;
figures from the rollups keep answering over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stacklens.analytics.analytics_service import Analytics
from stacklens.analytics.queries import Filters
from stacklens.retention.guard import OutsideRetentionError, raw_horizon
from stacklens.retention.job import RetentionJob
from stacklens.retention.tiers import RetentionPolicy
from stacklens.testing import SEED_RETENTION, ManualClock, in_process_hub
from stacklens.testing.analytics import install_rollups
from stacklens.testing.retention import DAY_NS, START_NS, day_traffic, load_segment

START = START_NS
load = load_segment

HOUR = 3600 * 10**9
NOW = START + 10 * DAY_NS + 5 * HOUR  # 2026-06-11T05:00Z: raw kept from 2026-06-04


@pytest.fixture
def analytics(tmp_path: Path) -> Analytics:
    store = install_rollups(tmp_path / "events.duckdb")
    for day in range(11):
        load(store, tmp_path, list(day_traffic(START + day * DAY_NS, 12)))
    policy = RetentionPolicy.build({}, {"acme": {"events": "30d"}})
    RetentionJob(store, policy, clock=ManualClock(NOW)).run_once()
    return Analytics(store, clock=ManualClock(NOW), raw_horizon=raw_horizon(policy))


def window(day: int, *, days: int = 1, **extra: Any) -> Filters:
    return Filters(since_ns=START + day * DAY_NS, until_ns=START + (day + days) * DAY_NS, **extra)


def test_percentiles_over_an_expired_range_are_refused_naming_the_retention(
    analytics: Analytics,
) -> None:
    message = r"since is outside raw events retention \(7d\): raw events are kept from 2026-06-04"
    with pytest.raises(OutsideRetentionError, match=message):
        analytics.latency(window(1))
    with pytest.raises(OutsideRetentionError, match=message):
        analytics.error_log(window(2, days=3))
    # A user filter is answered from raw events only.
    with pytest.raises(OutsideRetentionError, match=message):
        analytics.series(window(1, user="u-1"), ("events",))
    # An unaligned window too.
    with pytest.raises(OutsideRetentionError, match=message):
        analytics.tools(Filters(since_ns=START + DAY_NS + 1, until_ns=START + 2 * DAY_NS))
    assert analytics.latency(window(3))["overall"]["count"] == 3  # day 3 is kept


def test_a_stack_kept_longer_answers_further_back_and_all_stacks_use_the_shortest(
    analytics: Analytics,
) -> None:
    assert analytics.raw_kept_from(("acme",)) == START - 20 * DAY_NS  # 2026-05-12
    assert analytics.raw_kept_from(None) == START + 3 * DAY_NS
    analytics.latency(window(1, stacks=("acme",)))  # inside acme's 30 d: answers


def test_rollup_backed_figures_answer_over_expired_raw_days(analytics: Analytics) -> None:
    f = window(0, days=3)
    usage = analytics.series(f, ("events", "cost_usd"))
    assert sum(r["events"] for r in usage) == 36
    assert analytics.costs(f, "day")["total"]["calls"] == 3 * 3
    assert len(analytics.sessions(f)) == 3
    assert sum(r["calls"] for r in analytics.tools(f)) == 3 * 3


def test_the_dashboard_says_its_percentiles_are_outside_retention(analytics: Analytics) -> None:
    board = analytics.stack_dashboard(window(1, days=5))
    assert board["latency"] == {
        "outside_raw_retention": "since is outside raw events retention (7d): raw events "
        "are kept from 2026-06-04"
    }
    assert board["raw_events_kept_from"] == "2026-06-04T00:00:00.000000Z"
    one = analytics.session("s-alpha-" + str(START // DAY_NS + 1), None)
    assert one[0]["events"] == [] and one[0]["events_kept_from"].startswith("2026-06-04")


def test_the_api_answers_400_naming_the_retention(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    with in_process_hub(tmp_path / "data", clock=clock, **SEED_RETENTION) as (_, client):
        since = "2026-06-02T00:00:00Z"
        response = client.get("/api/v1/latency", params={"since": since})
        assert response.status_code == 400
        assert response.json() == {
            "error": "since is outside raw events retention (7d): raw events are kept from "
            "2026-06-04"
        }
        assert client.get("/api/v1/usage", params={"since": since}).status_code == 200
        assert client.get("/api/v1/latency", params={"since": "24h"}).status_code == 200


def test_door_limits_carry_each_stacks_events_retention() -> None:
    from stacklens.retention.guard import door_limits
    from stacklens.schema import EventError, normalize
    from stacklens.testing import SequentialIds

    limits = door_limits(RetentionPolicy.build({}, {"acme": {"events": "30d"}}))
    assert limits.age_error("alpha", NOW - 8 * DAY_NS, NOW) == "older than events retention (7d)"
    assert limits.age_error("acme", NOW - 8 * DAY_NS, NOW) is None
    assert limits.max_future_ns == 24 * HOUR  # the rest of the base limits stay
    event = {"event_type": "log", "timestamp": NOW - 8 * DAY_NS}
    with pytest.raises(EventError, match=r"older than events retention \(7d\)"):
        normalize(event, default_stack="alpha", now_ns=NOW, new_id=SequentialIds(), limits=limits)
