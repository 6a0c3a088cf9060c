"""Stack and service health judge only series that showed a regular heartbeat
(issue 12 item 7): a name seen once is never "down"; a steady heartbeat that stops is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stacklens.alerting.alerting_service import AlertingService
from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.defaults import default_rules
from stacklens.alerting.rules import RuleGroup, RuleSet
from stacklens.alerting.state import AlertState
from stacklens.alerting.wiring import build_alerting
from stacklens.analytics.analytics_service import Analytics
from stacklens.metadata.db import MetadataDB
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import ManualClock
from stacklens.testing.alerting import event, load
from stacklens.testing.analytics import install_rollups

S = 10**9
QUIET = parse_alerting_config("route: {receiver: none}\nreceivers: [{name: none}]\n")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    """With the rollups: the overview reads stack_last_seen."""
    s = install_rollups(tmp_path / "events.duckdb")
    yield s
    s.close()


def health_rules() -> RuleSet:
    wanted = {"StackUnhealthy", "ServiceDown"}
    rules = tuple(r for r in default_rules().rules() if r.name in wanted)
    return RuleSet((RuleGroup("stack-health", 30 * S, rules),))


def firing(engine: AlertingService) -> set[tuple[str, str, str]]:
    return {
        (a.labels["alertname"], a.labels["stack_name"], a.labels.get("service", ""))
        for a in engine.all_alerts()
        if a.state is AlertState.FIRING
    }


def health(store: DuckDBStore, clock: ManualClock) -> dict[str, str]:
    rows = Analytics(store, clock=clock).active_stacks(None)
    return {r["stack_name"]: r["health"] for r in rows}


def run_minutes(engine: AlertingService, clock: ManualClock, minutes: int) -> None:
    for _ in range(minutes * 2):
        engine.tick()
        clock.advance(30)


def test_a_service_seen_once_never_fires_and_is_not_down(
    store: DuckDBStore, metadata_db: MetadataDB, clock: ManualClock, tmp_path: Path
) -> None:
    load(
        store,
        tmp_path,
        [
            # one curl to /v1/events naming a service, one Loki line with an `app` label
            event(clock() - 10 * S, "heartbeat", "curl-stack", service="smoke-test"),
            event(clock() - 10 * S, "log", "loki-stack", service="chat", message="hello"),
        ],
    )
    engine = build_alerting(health_rules(), QUIET, reader=store, metadata=metadata_db, clock=clock)
    run_minutes(engine, clock, 30)
    assert firing(engine) == set()
    assert {a.state for a in engine.all_alerts()} <= {AlertState.INACTIVE}
    assert health(store, clock) == {"curl-stack": "unknown", "loki-stack": "unknown"}
    engine.stop()


def test_b_regular_heartbeats_that_stop_fire_and_show_down(
    store: DuckDBStore, metadata_db: MetadataDB, clock: ManualClock, tmp_path: Path
) -> None:
    # alpha's opencode service beat every 15 s for 5 minutes, then went silent
    load(
        store,
        tmp_path,
        [
            event(clock() - k * 15 * S, "heartbeat", "alpha", service="opencode")
            for k in range(1, 21)
        ],
    )
    engine = build_alerting(health_rules(), QUIET, reader=store, metadata=metadata_db, clock=clock)
    assert health(store, clock) == {"alpha": "up"}
    run_minutes(engine, clock, 4)  # > 2 min silent, then `for: 1m`
    assert firing(engine) == {("ServiceDown", "alpha", "opencode")}
    run_minutes(engine, clock, 8)  # stack silent > 5 min, then `for: 5m`
    assert firing(engine) == {
        ("ServiceDown", "alpha", "opencode"),
        ("StackUnhealthy", "alpha", ""),
    }
    clock.advance(5 * 60)  # past the 15-minute active window
    assert health(store, clock) == {"alpha": "down"}
    engine.stop()


def test_irregular_or_bursty_heartbeats_are_not_judged(
    store: DuckDBStore, metadata_db: MetadataDB, clock: ManualClock, tmp_path: Path
) -> None:
    now = clock()
    load(
        store,
        tmp_path,
        [
            # a burst: three pings in 30 ms (below min_interval)
            *(event(now - k * 10**7, "heartbeat", "burst", service="s") for k in range(3)),
            # gaps 5 s, 50 s: more than 3x apart
            *(event(now - t * S, "heartbeat", "ragged", service="s") for t in (0, 5, 55)),
            # every 5 minutes: slower than max_interval (1 min)
            *(event(now - k * 300 * S, "heartbeat", "slow", service="s") for k in range(4)),
        ],
    )
    engine = build_alerting(health_rules(), QUIET, reader=store, metadata=metadata_db, clock=clock)
    run_minutes(engine, clock, 20)
    assert firing(engine) == set()
    assert set(health(store, clock).values()) == {"unknown"}
    engine.stop()


def test_heartbeat_parameters_are_checked_with_their_name() -> None:
    from stacklens.alerting.rules import parse_rules
    from stacklens.alerting.yamlnodes import FileError

    text = """\
groups:
  - name: g
    rules:
      - alert: A
        signal: last_seen_age
        params: {min_heartbeats: 1}
        threshold: 1
      - alert: B
        signal: stack_up
        by: [stack_name]
        params: {max_interval: soon}
        threshold: 0
      - alert: C
        signal: last_seen_age
        params: {min_heartbeats: 3, min_interval: 2m, max_interval: 1m}
        threshold: 1
"""
    with pytest.raises(FileError) as caught:
        parse_rules(text)
    messages = [p.message for p in caught.value.problems]
    assert len(messages) == 3
    assert "min_heartbeats must be at least 2" in messages[0]
    assert "heartbeat parameters" in messages[1]
    assert "min_interval" in messages[2]
