"""``stacklens demo`` against a real hub: it leaves a live-looking fleet (issue 12 item 7)
— no ServiceDown/StackUnhealthy, no stack "down", sessions ending near now — and
``--live`` keeps a steady heartbeat going until it is stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.defaults import default_rules, default_rules_text
from stacklens.alerting.rules import RuleSet
from stacklens.alerting.state import AlertState
from stacklens.alerting.wiring import build_alerting
from stacklens.analytics.analytics_service import Analytics
from stacklens.metadata.db import MetadataDB
from stacklens.testing import HubProcess, ManualClock, wait_until
from stacklens.testing.analytics import install_rollups
from stacklens.testing.fleet import DEMO_STACKS

S = 10**9
HEALTH_ALERTS = {"ServiceDown", "StackUnhealthy"}


def fast_rules(tmp_path: Path) -> dict[str, str]:
    """The default rules with the stack-health group evaluated every second."""
    text = default_rules_text().replace("interval: 30s", "interval: 1s", 1)
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return {"STACKLENS_ALERT_RULES_FILE": str(path)}


def demo(hub: HubProcess, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "stacklens.cli",
        "demo",
        "--url",
        hub.url,
        "--key",
        hub.admin_key,
        *extra,
    ]


def evaluated_after(client: Any, moment: str) -> bool:
    groups = client.get("/api/v1/rules").json()["groups"]
    rules = [r for g in groups if g["name"] == "stack-health" for r in g["rules"]]
    return all((r["last_evaluation"] or "") > moment for r in rules)


def test_demo_leaves_no_health_alert_no_down_stack_and_recent_sessions(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "data", env=fast_rules(tmp_path)) as hub:
        result = subprocess.run(
            demo(hub, "--events", "300", "--seed", "1"), capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        sent_at = time.time_ns()
        with hub.client() as client:

            def all_loaded() -> list[dict[str, Any]] | None:
                events = client.get("/api/v1/events", params={"limit": 1000}).json()["events"]
                return events if len(events) == 300 else None

            events = wait_until(all_loaded, timeout=15)
            # the next whole second: an evaluation stamped after it saw every event
            loaded_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))
            wait_until(lambda: evaluated_after(client, loaded_at), timeout=15)
            active = client.get("/api/v1/alerts").json()["alerts"]
            assert [a for a in active if a["labels"]["alertname"] in HEALTH_ALERTS] == []
            stacks = client.get("/api/v1/overview").json()["stacks"]
            assert {s["stack_name"]: s["health"] for s in stacks} == dict.fromkeys(
                DEMO_STACKS, "up"
            )
        newest: dict[str, dict[str, Any]] = {}
        for e in events:
            if (
                e["stack_name"] not in newest
                or e["timestamp_ns"] > newest[e["stack_name"]]["timestamp_ns"]
            ):
                newest[e["stack_name"]] = e
        assert set(newest) == set(DEMO_STACKS)
        for e in newest.values():  # each stack's last session ended within 3 minutes
            assert e["event_type"] == "session_end"
            assert 0 <= sent_at - e["timestamp_ns"] <= 180 * S
    # Later on, with nobody sending: still nothing judged down (no regular heartbeat).
    store = install_rollups(tmp_path / "data" / "events.duckdb")
    db = MetadataDB(f"sqlite:///{tmp_path / 'scratch.sqlite'}")
    clock = ManualClock(sent_at)
    try:
        health = RuleSet(tuple(g for g in default_rules().groups if g.name == "stack-health"))
        engine = build_alerting(
            health,
            parse_alerting_config("route: {receiver: none}\nreceivers: [{name: none}]\n"),
            reader=store,
            metadata=db,
            clock=clock,
        )
        for _ in range(60):  # 30 minutes
            engine.tick()
            clock.advance(30)
        assert [a.labels for a in engine.all_alerts() if a.state is AlertState.FIRING] == []
        marks = {r["health"] for r in Analytics(store, clock=clock).active_stacks(None)}
        assert "down" not in marks
        engine.stop()
    finally:
        store.close()
        db.close()


@pytest.mark.timeout(120)
def test_demo_live_keeps_sending_until_interrupted(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "data", env=fast_rules(tmp_path)) as hub:
        process = subprocess.Popen(
            demo(hub, "--events", "50", "--live", "--interval", "1.5"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            with hub.client() as client:

                def heartbeats() -> int:
                    params = {"event_type": "heartbeat", "limit": 1000}
                    return len(client.get("/api/v1/events", params=params).json()["events"])

                first = wait_until(lambda: heartbeats() >= 3 * len(DEMO_STACKS), timeout=30)
                assert first
                seen = heartbeats()
                wait_until(lambda: heartbeats() >= seen + len(DEMO_STACKS), timeout=15)
                # a live demo stack has a regular heartbeat: judged, and up
                stacks = client.get("/api/v1/overview").json()["stacks"]
                assert {s["stack_name"]: (s["heartbeat_regular"], s["health"]) for s in stacks} == (
                    dict.fromkeys(DEMO_STACKS, (True, "up"))
                )
                active = client.get("/api/v1/alerts").json()["alerts"]
                assert [a for a in active if a["labels"]["alertname"] in HEALTH_ALERTS] == []
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert "live stopped after" in out
