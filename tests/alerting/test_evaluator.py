"""The evaluator on its own: rules, state and persistence, handing firing and resolved
alerts to a recording notify function. It knows nothing of routing: no manager is
built, and importing it loads no routing, silence or delivery module."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

import stacklens.alerting.evaluator as evaluator_module
from stacklens.alerting.evaluator import Evaluator
from stacklens.alerting.rules import parse_rules
from stacklens.alerting.state import Alert, AlertState
from stacklens.metadata.db import MetadataDB
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import ManualClock
from stacklens.testing.alerting import event, load

S = 10**9

RULES = """\
groups:
  - name: traffic
    interval: 30s
    rules:
      - alert: AnyTraffic
        signal: event_count
        window: 5m
        by: [stack_name]
        op: ">"
        threshold: 0
        labels: {severity: warning}
      - alert: SustainedTraffic
        signal: event_count
        window: 5m
        by: [stack_name]
        op: ">"
        threshold: 0
        for: 10m
"""

#: What belongs to the notification side (Alertmanager's half).
NOTIFICATION_SIDE = {
    "stacklens.alerting.routing",
    "stacklens.alerting.dispatch",
    "stacklens.alerting.silences",
    "stacklens.alerting.manager",
    "stacklens.alerting.notifier",
    "stacklens.alerting.notify_log",
    "stacklens.alerting.delivery",
    "stacklens.alerting.forwarding",
    "stacklens.alerting.receivers",
    "stacklens.alerting.config_file",
}


class RecordingNotify:
    def __init__(self) -> None:
        self.calls: list[list[Alert]] = []

    def __call__(self, alerts: Sequence[Alert]) -> None:
        self.calls.append(list(alerts))

    def last(self) -> list[tuple[str, str, AlertState]]:
        return [(a.labels["alertname"], a.labels["stack_name"], a.state) for a in self.calls[-1]]


def test_evaluator_hands_firing_then_resolved_alerts_to_notify(
    store: DuckDBStore, metadata_db: MetadataDB, clock: ManualClock, tmp_path: Path
) -> None:
    notify = RecordingNotify()
    evaluator = Evaluator(
        parse_rules(RULES), reader=store, metadata=metadata_db, notify=notify, clock=clock
    )
    load(store, tmp_path, [event(clock() - S, "llm_call", "alpha")])
    evaluator.tick()
    # AnyTraffic fires at once; SustainedTraffic is pending, which is never sent
    assert notify.last() == [("AnyTraffic", "alpha", AlertState.FIRING)]
    [sent] = notify.calls[-1]
    assert sent.labels == {"alertname": "AnyTraffic", "severity": "warning", "stack_name": "alpha"}
    assert sent.fired_at_ns == clock() and sent.resolved_at_ns is None
    assert {a.state for a in evaluator.all_alerts()} == {AlertState.FIRING, AlertState.PENDING}
    clock.advance(10)
    evaluator.tick()  # no group due: the current set is sent again all the same
    assert len(notify.calls) == 2 and notify.last() == [("AnyTraffic", "alpha", AlertState.FIRING)]
    clock.advance(5 * 60)  # the event leaves the 5 minute window
    evaluator.tick()
    assert notify.last() == [("AnyTraffic", "alpha", AlertState.RESOLVED)]
    assert notify.calls[-1][0].resolved_at_ns == clock()
    # a restarted evaluator resumes from the persisted state and sends it again
    again = RecordingNotify()
    Evaluator(
        parse_rules(RULES), reader=store, metadata=metadata_db, notify=again, clock=clock
    ).tick()
    assert again.last() == [("AnyTraffic", "alpha", AlertState.RESOLVED)]


def test_evaluator_module_imports_nothing_of_routing() -> None:
    tree = ast.parse(Path(evaluator_module.__file__).read_text())
    direct = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert direct & NOTIFICATION_SIDE == set()
    # nor anything it imports, transitively
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, stacklens.alerting.evaluator;print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    modules = set(json.loads(loaded.stdout))
    assert "stacklens.alerting.evaluator" in modules
    side = {m for m in modules if any(m == s or m.startswith(s + ".") for s in NOTIFICATION_SIDE)}
    assert side == set()


class SwitchableReader:
    """The store, or a store that refuses every read (an outage), on cue."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store, self.down = store, False

    def fetch(self, statement: str, params: Any = None) -> Any:
        if self.down:
            raise ConnectionError("store unreachable")
        return self.store.fetch(statement, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_store_outage_is_logged_once_per_rule_not_every_tick(
    store: DuckDBStore, metadata_db: MetadataDB, clock: ManualClock
) -> None:
    reader = SwitchableReader(store)
    evaluator = Evaluator(
        parse_rules(RULES), reader=reader, metadata=metadata_db, notify=RecordingNotify(),
        clock=clock,
    )  # fmt: skip
    reader.down = True
    with capture_logs() as logs:
        for _ in range(5):
            evaluator.tick()
            clock.advance(30)
    failed = [e for e in logs if e["event"] == "alert rule evaluation failed"]
    assert sorted(e["rule"] for e in failed) == sorted(evaluator.status)  # once per rule
    assert all(s.health == "err" for s in evaluator.status.values())
    reader.down = False
    with capture_logs() as logs:
        evaluator.tick()
        clock.advance(30)
        evaluator.tick()
    recovered = [e for e in logs if e["event"] == "alert rule evaluation recovered"]
    assert sorted(e["rule"] for e in recovered) == sorted(evaluator.status)
    assert all(s.health == "ok" for s in evaluator.status.values())
