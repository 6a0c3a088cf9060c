"""End to end on loopback: events ingested over the hub's API cross a threshold; the
alert fires after `for` and reaches a webhook, an SMTP server (aiosmtpd) and a
PagerDuty-shaped endpoint with the right payloads; it resolves when the data recovers;
a silence made through the API suppresses it. Secrets never reach the logs."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.instruments import AlertMetrics
from stacklens.alerting.receivers.pagerduty import dedup_key
from stacklens.alerting.rules import parse_rules
from stacklens.alerting.wiring import build_alerting
from stacklens.api.alerts import ALERTING
from stacklens.server import Hub, create_app
from stacklens.testing import ADMIN_KEY, free_port, hub_config, wait_until
from stacklens.testing.alerting import Recorder

RULES = """\
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: ErrorBurst
        signal: error_count
        window: 6s
        by: [stack_name]
        op: ">"
        threshold: 2
        for: 2s
        labels: {severity: critical}
        annotations:
          summary: "{{ $value }} errors on {{ $labels.stack_name }}"
"""

SECRET_TOKEN = "s3cr3t-token-value"
PD_KEY = "pd-routing-key-e2e"
SMTP_PASSWORD = "smtp-password-e2e"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def alerting_config(hook: str, pd: str, smtp_port: int, dead_port: int) -> str:
    return f"""
global:
  external_url: http://hub.example:4320
route:
  receiver: team
  group_by: [alertname, stack_name]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs:
      - url: '{hook}/hook?token={SECRET_TOKEN}'
      - url: 'http://127.0.0.1:{dead_port}/dead/{SECRET_TOKEN}'
        send_resolved: false
    email_configs:
      - to: 'oncall@example.com'
        from: 'stacklens@example.com'
        smarthost: '127.0.0.1:{smtp_port}'
        require_tls: false
        auth_password: '{SMTP_PASSWORD}'
        send_resolved: true
    pagerduty_configs:
      - routing_key: '{PD_KEY}'
        url: '{pd}/v2/enqueue'
notify: {{max_attempts: 2, backoff_initial: 100ms, timeout: 2s}}
"""


def errors(client: TestClient, count: int, stack: str = "alpha") -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    body = [
        {"timestamp": now, "stack_name": stack, "event_type": "error", "message": "boom"}
        for _ in range(count)
    ]
    response = client.post("/v1/events", json=body)
    assert response.status_code in (200, 202), response.text


def test_fire_notify_resolve_silence(
    tmp_path: Path,
    recorder: Recorder,
    smtp: tuple[Mailbox, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    mailbox, smtp_port = smtp
    pagerduty = Recorder()
    hub = Hub(hub_config(tmp_path / "data", alerting_enabled=False))
    hub.bootstrap_admin()
    app = create_app(hub)
    config = parse_alerting_config(
        alerting_config(recorder.url, pagerduty.url, smtp_port, free_port())
    )
    engine = build_alerting(
        parse_rules(RULES),
        config,
        reader=hub.store,
        metadata=hub.metadata,
        clock=hub.clock,
        metrics=AlertMetrics(hub.registry),
    )
    ALERTING.provide(app, engine)
    try:
        with TestClient(app) as client:
            client.headers["X-API-Key"] = ADMIN_KEY
            engine.start(poll_s=0.2)
            started = time.monotonic()
            errors(client, 5)
            # pending first, firing only after `for: 2s`
            wait_until(lambda: client.get("/api/v1/alerts").json()["alerts"], timeout=10)
            first = client.get("/api/v1/alerts").json()["alerts"][0]
            assert first["state"] == "pending"
            wait_until(lambda: recorder.bodies, timeout=15)
            assert time.monotonic() - started >= 2.0
            hook = recorder.bodies[0]
            assert hook["version"] == "4" and hook["status"] == "firing"
            assert hook["receiver"] == "team"
            assert hook["groupKey"] == '{}:{alertname="ErrorBurst", stack_name="alpha"}'
            assert hook["groupLabels"] == {"alertname": "ErrorBurst", "stack_name": "alpha"}
            assert hook["commonLabels"] == {
                "alertname": "ErrorBurst",
                "severity": "critical",
                "stack_name": "alpha",
            }
            assert hook["commonAnnotations"] == {"summary": "5 errors on alpha"}
            assert hook["externalURL"] == "http://hub.example:4320"
            assert hook["truncatedAlerts"] == 0
            [alert] = hook["alerts"]
            assert set(alert) == {
                "status",
                "labels",
                "annotations",
                "startsAt",
                "endsAt",
                "generatorURL",
                "fingerprint",
            }
            assert alert["endsAt"] == "0001-01-01T00:00:00Z"
            assert recorder.paths[0] == f"/hook?token={SECRET_TOKEN}"
            wait_until(lambda: pagerduty.bodies and mailbox.messages, timeout=10)
            trigger = pagerduty.bodies[0]
            assert trigger["routing_key"] == PD_KEY and trigger["event_action"] == "trigger"
            assert trigger["dedup_key"] == dedup_key(hook["groupKey"])
            assert trigger["payload"]["severity"] == "critical"
            assert trigger["payload"]["source"] == "alpha"
            assert trigger["payload"]["summary"].startswith("[FIRING:1] ErrorBurst")
            assert set(trigger["payload"]) >= {
                "summary",
                "source",
                "severity",
                "timestamp",
                "custom_details",
            }
            mail = mailbox.messages[0]
            assert (
                mail["Subject"].startswith("[FIRING:1] ErrorBurst")
                and mail["To"] == "oncall@example.com"
            )
            assert "5 errors on alpha" in mail.get_payload()

            # the data recovers: errors leave the 6 s window → resolved everywhere
            wait_until(lambda: len(recorder.bodies) >= 2, timeout=20)
            assert recorder.bodies[1]["status"] == "resolved"
            assert recorder.bodies[1]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
            wait_until(
                lambda: len(pagerduty.bodies) >= 2 and len(mailbox.messages) >= 2, timeout=10
            )
            resolve = pagerduty.bodies[1]
            assert (
                resolve["event_action"] == "resolve"
                and resolve["dedup_key"] == trigger["dedup_key"]
            )
            assert "payload" not in resolve
            assert mailbox.messages[1]["Subject"].startswith("[RESOLVED] ErrorBurst")
            assert client.get("/api/v1/alerts").json()["alerts"] == []

            # a silence through the API suppresses the next burst
            created = client.post(
                "/api/v1/silences",
                json={
                    "matchers": [{"name": "alertname", "value": "ErrorBurst", "isRegex": False}],
                    "duration": "1h",
                    "comment": "maintenance",
                },
            )
            assert created.status_code == 201, created.text
            sent = len(recorder.bodies)
            errors(client, 5)
            wait_until(
                lambda: any(
                    a["state"] == "firing" and a["silenced_by"]
                    for a in client.get("/api/v1/alerts").json()["alerts"]
                ),
                timeout=15,
            )
            time.sleep(2.5)  # several group_intervals
            assert len(recorder.bodies) == sent

            history = client.get("/api/v1/alerts/history").json()["history"]
            assert {(h["previous"], h["current"]) for h in history} >= {
                ("inactive", "pending"),
                ("pending", "firing"),
                ("firing", "resolved"),
            }
            log = client.get("/api/v1/notifications", params={"limit": 1000}).json()[
                "notifications"
            ]
            assert {n["outcome"] for n in log} >= {"success", "retry", "failure"}
            metrics = client.get("/metrics").text
            assert (
                'stacklens_alert_notifications_total{outcome="success",receiver="team"}' in metrics
            )
            assert 'stacklens_alerts{state="firing"} 1.0' in metrics
            engine.stop()
    finally:
        pagerduty.close()
    # the dead webhook failed with its token in the URL path: never logged anywhere
    captured = capsys.readouterr()
    for secret in (SECRET_TOKEN, PD_KEY, SMTP_PASSWORD):
        assert secret not in captured.out + captured.err
        assert secret not in str(log)
