"""Stack health: the dead-man's switch (last seen) and active probes feed StackUnhealthy."""

from __future__ import annotations

from pathlib import Path

from stacklens.alerting.alerting_service import AlertingService
from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.defaults import default_rules
from stacklens.alerting.health_probe import HealthProber
from stacklens.alerting.rules import RuleGroup, RuleSet
from stacklens.alerting.state import AlertState
from stacklens.alerting.wiring import build_alerting
from stacklens.metadata.db import MetadataDB
from stacklens.metadata.stacks import StackRegistry
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import ManualClock
from stacklens.testing.alerting import Recorder, event, load

S = 10**9
QUIET = parse_alerting_config("route: {receiver: none}\nreceivers: [{name: none}]\n")


def stack_unhealthy() -> RuleSet:
    rule = next(r for r in default_rules().rules() if r.name == "StackUnhealthy")
    return RuleSet((RuleGroup(rule.group, 30 * S, (rule,)),))


def firing(engine: AlertingService) -> set[str]:
    return {a.labels["stack_name"] for a in engine.all_alerts() if a.state is AlertState.FIRING}


def test_missing_heartbeat_fires_after_five_plus_five_minutes(
    store: DuckDBStore, metadata_db: MetadataDB, clock: ManualClock, tmp_path: Path
) -> None:
    # Both had a regular heartbeat (every 30 s): only such stacks are judged.
    load(
        store,
        tmp_path,
        [
            event(clock() - S - k * 30 * S, "heartbeat", s)
            for s in ("alpha", "beta")
            for k in range(4)
        ],
    )
    engine = build_alerting(
        stack_unhealthy(), QUIET, reader=store, metadata=metadata_db, clock=clock
    )
    for _ in range(40):  # 20 minutes; beta keeps sending heartbeats, alpha went silent
        engine.tick()
        clock.advance(30)
        load(store, tmp_path, [event(clock() - S, "heartbeat", "beta")])
    assert firing(engine) == {"alpha"}
    history = engine.states.history(limit=10)
    pending_at = min(h["at_ns"] for h in history if h["current"] == "pending")
    fired_at = min(h["at_ns"] for h in history if h["current"] == "firing")
    assert fired_at - pending_at >= 300 * S  # `for: 5m`
    engine.stop()


def test_failing_health_probe_marks_a_live_stack_down(
    store: DuckDBStore, metadata_db: MetadataDB, clock: ManualClock, tmp_path: Path
) -> None:
    healthy, broken = Recorder(200), Recorder(503)  # seed 002's /health answers 503 when unhealthy
    try:
        stacks = StackRegistry(metadata_db, clock=clock)
        stacks.create("alpha", health_url=f"{healthy.url}/health")
        stacks.create("beta", health_url=f"{broken.url}/health")
        stacks.create("gamma")  # no health URL: heartbeat only
        prober = HealthProber(
            lambda: [(s.name, s.health_url) for s in stacks.list() if s.health_url],
            clock=clock,
            timeout_s=2,
        )
        results = prober.probe_once()
        assert {k: (v.ok, v.status_code) for k, v in results.items()} == {
            "alpha": (True, 200),
            "beta": (False, 503),
        }
        engine = build_alerting(
            stack_unhealthy(),
            QUIET,
            reader=store,
            metadata=metadata_db,
            clock=clock,
            prober=prober,
        )
        for _ in range(12):  # all three stacks keep sending events
            load(
                store,
                tmp_path,
                [event(clock() - S, "heartbeat", s) for s in ("alpha", "beta", "gamma")],
            )
            engine.tick()
            clock.advance(30)
        assert firing(engine) == {"beta"}
        broken.statuses = [200]  # beta recovers
        prober.probe_once()
        engine.tick()
        assert firing(engine) == set()
        engine.stop()
    finally:
        healthy.close()
        broken.close()
