"""The overview's regular-heartbeat check reads each stack's newest heartbeats from
just before the hour of its newest one (the hourly rollup knows that hour), not every
heartbeat of the 7-day lookback (issue 15: the largest statement of the overview on
both stores). It must judge every stack as the whole-lookback read does.

Stacks (UTC, ``NOW`` = 2026-01-15 12:00; policy: 3 heartbeats, gaps 1 s .. 60 s,
within a factor 3 of each other):

=========  =====================================================  =========
stack      heartbeats                                             regular
=========  =====================================================  =========
live       every 20 s, 11:50:00 .. 11:59:40                       yes
edge       10:59:20, 10:59:40, 11:00:00 (the newest hour has one)  yes
stopped    every 20 s for 10 min, ending 2 days ago               yes
two        11:30:00, 11:30:20 (fewer than 3)                      no
jitter     11:40:00, 11:40:05, 11:40:55 (5 s beside 50 s)         no
late       every 20 s until 09:00:00, then one at 11:30:00        no
=========  =====================================================  =========

``two`` and ``late`` find fewer than 3 in their short window and are read again over
the whole lookback; ``late`` shows why: its newest three are 11:30, 09:00, 08:59:40.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stacklens.analytics import heartbeats
from stacklens.analytics.analytics_service import Analytics
from stacklens.analytics.heartbeats import (
    DEFAULT_POLICY,
    HEARTBEAT_LOOKBACK_S,
    newest_window_start,
)
from stacklens.schema import EventRow
from stacklens.testing.backends import BACKENDS, Backend, backend_id

S = 10**9
HOUR = 3600 * S
DAY0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z
NOW = DAY0 + 12 * HOUR


def at(hour: int, minute: int = 0, second: int = 0, day: int = 0) -> int:
    return DAY0 + day * 24 * HOUR + ((hour * 60 + minute) * 60 + second) * S


def beats(stack: str, times: list[int]) -> list[EventRow]:
    return [
        EventRow(
            event_id=f"{stack}-{i}",
            ts=ts,
            stack_name=stack,
            event_type="heartbeat",
            received_ns=NOW,
        )
        for i, ts in enumerate(times)
    ]


def every_20s(start: int, end: int) -> list[int]:
    return list(range(start, end + 1, 20 * S))


STACKS = {
    "live": every_20s(at(11, 50), at(11, 59, 40)),
    "edge": [at(10, 59, 20), at(10, 59, 40), at(11, 0, 0)],
    "stopped": every_20s(at(10, 0, day=-2), at(10, 10, day=-2)),
    "two": [at(11, 30), at(11, 30, 20)],
    "jitter": [at(11, 40), at(11, 40, 5), at(11, 40, 55)],
    "late": [*every_20s(at(8, 0), at(9, 0)), at(11, 30)],
}
REGULAR = {
    "live": True,
    "edge": True,
    "stopped": True,
    "two": False,
    "jitter": False,
    "late": False,
}


@pytest.fixture(scope="module", params=BACKENDS, ids=backend_id)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    loaded: Backend = request.param(tmp_path_factory.mktemp("heartbeats"))
    loaded.load([row for stack, times in STACKS.items() for row in beats(stack, times)])
    yield loaded
    loaded.store.close()


@pytest.fixture
def analytics(backend: Backend) -> Analytics:
    return Analytics(backend.store, clock=lambda: NOW)


def whole_lookback(analytics: Analytics, stacks: tuple[str, ...] | None) -> dict[str, bool]:
    query = heartbeats.stack_heartbeats(
        analytics.d, NOW, HEARTBEAT_LOOKBACK_S, stacks, DEFAULT_POLICY
    )
    return {r["d0"]: bool(r["regular"]) for r in analytics.rows(query)}


def test_every_stack_is_judged_as_the_whole_lookback_judges_it(analytics: Analytics) -> None:
    assert whole_lookback(analytics, None) == REGULAR
    assert analytics.regular_heartbeats(NOW, None) == REGULAR
    assert analytics.regular_heartbeats(NOW, ("edge", "late")) == {"edge": True, "late": False}
    health = {r["stack_name"]: r["heartbeat_regular"] for r in analytics.active_stacks(None)}
    assert health == REGULAR


def test_the_rollup_gives_the_hour_of_each_newest_heartbeat(analytics: Analytics) -> None:
    rows = analytics.rows(heartbeats.heartbeat_hours(analytics.d, NOW, HEARTBEAT_LOOKBACK_S, None))
    assert {r["stack_name"]: int(r["hour_ns"]) for r in rows} == {
        "live": at(11),
        "edge": at(11),
        "stopped": at(10, day=-2),
        "two": at(11),
        "jitter": at(11),
        "late": at(11),
    }


def test_the_short_window_reads_only_the_newest_heartbeats(analytics: Analytics) -> None:
    # From 2 minutes before the newest heartbeat's hour: live's 30 beats of 11:50 on,
    # all three of edge's (two of them in the hour before), stopped's 31 (one hour).
    starts = {
        s: newest_window_start(h)
        for s, h in (
            ("live", at(11)),
            ("edge", at(11)),
            ("stopped", at(10, day=-2)),
            ("late", at(11)),
        )
    }
    assert starts["edge"] == at(10, 58)
    read = heartbeats.stack_heartbeats(
        analytics.d, NOW, HEARTBEAT_LOOKBACK_S, None, DEFAULT_POLICY, newest_from=starts
    )
    found: dict[str, Any] = {
        r["d0"]: (int(r["heartbeats"]), bool(r["regular"])) for r in analytics.rows(read)
    }
    assert found == {
        "live": (30, True),
        "edge": (3, True),
        "stopped": (31, True),
        "late": (1, False),  # fewer than 3: read again over the whole lookback
    }


def test_the_lookback_still_bounds_what_is_judged(analytics: Analytics) -> None:
    # 3 days on, every stack's heartbeats are still within the 7 days (stopped's are
    # 5 days old); 6 days on, only stopped's have left it.
    day = 86400 * S
    assert analytics.regular_heartbeats(NOW + 3 * day, None) == REGULAR
    six = analytics.regular_heartbeats(NOW + 6 * day, None)
    assert six == {s: r for s, r in REGULAR.items() if s != "stopped"}
    assert analytics.regular_heartbeats(NOW + 8 * day, None) == {}
