"""A real Alertmanager (Debian ``prometheus-alertmanager``) on loopback receives the
hub's forwarded alerts (``POST /api/v2/alerts``, re-sent before ``endsAt``) and
delivers them to a webhook; resolving in the hub resolves there too. The forwarding is
a notify function: an evaluator alone forwards, and a hub forwards beside its own
notification manager (``STACKLENS_ALERTMANAGER_URL``)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.config_model import ForwardTarget
from stacklens.alerting.evaluator import Evaluator
from stacklens.alerting.forwarding import AlertmanagerNotify
from stacklens.alerting.instruments import DeliveryMetrics
from stacklens.alerting.notify_log import NotificationLog
from stacklens.alerting.rules import parse_rules
from stacklens.alerting.wiring import build_alerting
from stacklens.config import load_config
from stacklens.metadata.db import MetadataDB
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import free_port, in_process_hub, require_binary, wait_until
from stacklens.testing.alerting import Recorder, event, load
from stacklens.testing.backends import clear_stream

ALERTMANAGER = require_binary(
    "prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager"
)
pytestmark = [pytest.mark.slow]

RULES = """\
groups:
  - name: fwd
    interval: 1s
    rules:
      - alert: AnyTraffic
        signal: event_count
        window: 1h
        by: [stack_name]
        op: ">"
        threshold: 0
        labels: {severity: warning}
        annotations: {summary: "{{ $value }} events on {{ $labels.stack_name }}"}
"""


@pytest.fixture
def alertmanager(tmp_path: Path, recorder: Recorder) -> Iterator[str]:
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{{url: '{recorder.url}/am', send_resolved: true}}]
""")
    assert ALERTMANAGER is not None
    log = (tmp_path / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
            return False

        wait_until(ready, timeout=20)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def test_forwarded_alerts_reach_alertmanager_and_its_webhook(
    tmp_path: Path,
    store: DuckDBStore,
    metadata_db: MetadataDB,
    recorder: Recorder,
    alertmanager: str,
) -> None:
    load(store, tmp_path, [event(time.time_ns() - 10**9, "llm_call", "alpha")])
    config = parse_alerting_config(f"""
route: {{receiver: none}}
receivers: [{{name: none}}]
alertmanagers: [{{url: '{alertmanager}', resend_delay: 1s}}]
global: {{external_url: 'http://hub.example:4320'}}
""")
    engine = build_alerting(parse_rules(RULES), config, reader=store, metadata=metadata_db)
    engine.start(poll_s=0.2)
    try:
        wait_until(lambda: recorder.bodies, timeout=20)
        body = recorder.bodies[0]
        assert body["status"] == "firing" and body["receiver"] == "hook"
        [alert] = body["alerts"]
        assert alert["labels"] == {
            "alertname": "AnyTraffic",
            "severity": "warning",
            "stack_name": "alpha",
        }
        assert alert["annotations"] == {"summary": "1 events on alpha"}
        assert alert["generatorURL"].startswith("http://hub.example:4320/")
        # Alertmanager computes the same fingerprint the hub does
        assert alert["fingerprint"] == engine.all_alerts()[0].fingerprint

        def ends_at() -> str:
            alerts = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
            return str(alerts[0]["endsAt"]) if alerts else ""

        first = ends_at()
        wait_until(lambda: ends_at() > first, timeout=10)  # re-sent before endsAt, extending it

        clear_stream(store)  # the data recovers
        wait_until(lambda: any(b["status"] == "resolved" for b in recorder.bodies), timeout=20)
        attempts = engine.notify_log.list(receiver="alertmanager", limit=1000)
        assert attempts and {a["outcome"] for a in attempts} == {"success"}
        assert {a["target"] for a in attempts} == {alertmanager}
    finally:
        engine.stop()


def alertmanager_alerts(url: str) -> list[dict[str, Any]]:
    """The alerts Alertmanager holds as active (resolved ones are not listed)."""
    found: list[dict[str, Any]] = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
    return found


def test_the_evaluators_notify_forwards_to_alertmanager_without_a_manager(
    tmp_path: Path, store: DuckDBStore, metadata_db: MetadataDB, alertmanager: str
) -> None:
    forward = AlertmanagerNotify(
        [ForwardTarget(alertmanager, resend_delay_ns=10**9)],
        NotificationLog(metadata_db),
        DeliveryMetrics(),
        clock=time.time_ns,
        external_url="http://hub.example:4320",
    )
    evaluator = Evaluator(parse_rules(RULES), reader=store, metadata=metadata_db, notify=forward)
    load(store, tmp_path, [event(time.time_ns() - 10**9, "llm_call", "alpha")])
    try:
        evaluator.tick()
        forward.drain()
        [alert] = alertmanager_alerts(alertmanager)
        assert alert["labels"] == {
            "alertname": "AnyTraffic",
            "severity": "warning",
            "stack_name": "alpha",
        }
        assert alert["fingerprint"] == evaluator.all_alerts()[0].fingerprint
        assert alert["status"]["state"] == "active"
        clear_stream(store)  # the data recovers: resolved there too
        time.sleep(1.1)  # the next group evaluation (interval 1s)
        evaluator.tick()
        forward.drain()
        assert alertmanager_alerts(alertmanager) == []
    finally:
        forward.close()


def test_a_hub_notifies_its_manager_and_the_alertmanager_of_its_setting(
    tmp_path: Path, recorder: Recorder, alertmanager: str
) -> None:
    assert load_config(environ={"STACKLENS_ALERTMANAGER_URL": alertmanager}).alertmanager_url == (
        alertmanager
    )
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    routing = tmp_path / "alerting.yml"
    routing.write_text(f"""
route: {{receiver: local, group_wait: 0s, group_interval: 1s}}
receivers: [{{name: local, webhook_configs: [{{url: '{recorder.url}/local'}}]}}]
""")
    with in_process_hub(
        tmp_path / "data",
        alert_rules_file=rules,
        alerting_config_file=routing,
        alert_default_rules=False,
        alertmanager_url=alertmanager,
    ) as (hub, _):
        load(hub.store, tmp_path, [event(time.time_ns() - 10**9, "llm_call", "alpha")])
        wait_until(lambda: "/local" in recorder.paths, timeout=20)  # the hub's own manager
        wait_until(lambda: alertmanager_alerts(alertmanager), timeout=20)  # and Alertmanager
        [alert] = alertmanager_alerts(alertmanager)
        assert alert["labels"]["alertname"] == "AnyTraffic"
        wait_until(lambda: "/am" in recorder.paths, timeout=20)  # which routes it on
        local = recorder.bodies[recorder.paths.index("/local")]
        assert [a["fingerprint"] for a in local["alerts"]] == [alert["fingerprint"]]
