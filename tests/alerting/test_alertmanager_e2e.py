"""A real Alertmanager (Debian ``prometheus-alertmanager``) on loopback receives the
hub's forwarded alerts (``POST /api/v2/alerts``, re-sent before ``endsAt``) and
delivers them to a webhook; resolving in the hub resolves there too."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.rules import parse_rules
from stacklens.alerting.wiring import build_alerting
from stacklens.metadata.db import MetadataDB
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import free_port, require_binary, wait_until
from stacklens.testing.alerting import Recorder, event, load

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

        with store.writer() as con:  # the data recovers
            con.execute("DELETE FROM events")
        wait_until(lambda: any(b["status"] == "resolved" for b in recorder.bodies), timeout=20)
        attempts = engine.notify_log.list(receiver="alertmanager", limit=1000)
        assert attempts and {a["outcome"] for a in attempts} == {"success"}
        assert {a["target"] for a in attempts} == {alertmanager}
    finally:
        engine.stop()
