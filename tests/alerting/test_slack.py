"""Slack, the default receiver, against a real loopback HTTP server: the payload an
incoming webhook takes (an attachment per notification, coloured by status and
severity), grouped and resolved notifications, retries with backoff, and the webhook
URL — a secret — kept out of every log line, notification-log row and error."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.dispatch import Integration, Notification
from stacklens.alerting.instruments import AlertMetrics
from stacklens.alerting.notifier import Notifier
from stacklens.alerting.notify_log import NotificationLog
from stacklens.alerting.state import Alert, AlertState
from stacklens.metadata.db import MetadataDB
from stacklens.testing import ManualClock
from stacklens.testing.alerting import Recorder

SECRET = "XXsl4ckS3cr3tTokenXX"
HOOK_PATH = f"/services/T0001/B0001/{SECRET}"
T0 = 1_767_225_600 * 10**9


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def config(api_url: str, *, attempts: int = 4, extra: str = "") -> Any:
    return parse_alerting_config(f"""
global:
  external_url: http://hub.example:4320
route:
  receiver: team
  group_by: [alertname]
receivers:
  - name: team
    slack_configs:
      - api_url: '{api_url}'
        channel: '#alerts'
        send_resolved: true
{extra}
notify: {{max_attempts: {attempts}, backoff_initial: 1s, backoff_max: 30s, timeout: 2s}}
""")


def alert(
    name: str = "HighErrorRate",
    *,
    severity: str = "warning",
    state: AlertState = AlertState.FIRING,
    stack: str = "alpha",
    summary: str = "5 errors on alpha",
) -> Alert:
    return Alert(
        rule_key=f"r/{name}",
        fingerprint=f"{name}-{stack}",
        labels={"alertname": name, "severity": severity, "stack_name": stack},
        annotations={"summary": summary},
        state=state,
        value=5.0,
        active_at_ns=T0,
        last_true_ns=T0,
        fired_at_ns=T0,
        resolved_at_ns=None if state is AlertState.FIRING else T0 + 60 * 10**9,
    )


def notification(notifier: Notifier, *alerts: Alert) -> Notification:
    item = notifier.config.receivers["team"][0]
    firing = frozenset(a.fingerprint for a in alerts if a.state is AlertState.FIRING)
    return Notification(
        integration=Integration(item.id, "team"),
        group_key='{}:{alertname="HighErrorRate"}',
        group_labels={"alertname": alerts[0].labels["alertname"]},
        alerts=alerts,
        firing=firing,
        resolved=frozenset(a.fingerprint for a in alerts) - firing,
    )


@pytest.fixture
def parts(tmp_path: Any) -> Iterator[tuple[MetadataDB, list[float]]]:
    db = MetadataDB(f"sqlite:///{tmp_path / 'metadata.sqlite'}")
    yield db, []
    db.close()


def make(db: MetadataDB, sleeps: list[float], api_url: str, **kw: Any) -> Notifier:
    return Notifier(
        config(api_url, **kw),
        NotificationLog(db),
        AlertMetrics(),
        clock=ManualClock(T0),
        sleep=sleeps.append,
    )


def test_firing_payload_shape_and_severity_colours(
    parts: tuple[MetadataDB, list[float]], recorder: Recorder
) -> None:
    db, sleeps = parts
    notifier = make(db, sleeps, recorder.url + HOOK_PATH)
    try:
        assert notifier.deliver(notification(notifier, alert(severity="warning")))
        assert notifier.deliver(notification(notifier, alert(severity="critical")))
    finally:
        notifier.close()
    assert recorder.paths == [HOOK_PATH, HOOK_PATH]
    warning, critical = recorder.bodies
    assert set(warning) == {"username", "text", "attachments", "channel"}
    assert (warning["username"], warning["channel"]) == ("stacklens", "#alerts")
    assert warning["text"] == "[FIRING:1] HighErrorRate"
    [attachment] = warning["attachments"]
    assert attachment["color"] == "warning"
    assert attachment["title"] == attachment["fallback"] == "[FIRING:1] HighErrorRate"
    assert attachment["title_link"] == (
        "http://hub.example:4320/api/v1/alerts?alertname=HighErrorRate"
    )
    assert attachment["mrkdwn_in"] == ["text"]
    assert attachment["text"].splitlines() == [
        "FIRING: 5 errors on alpha",
        "  value: 5",  # the alert's value with its unit (this rule's has none)
        "  labels: alertname=HighErrorRate, severity=warning, stack_name=alpha",
    ]
    assert critical["attachments"][0]["color"] == "danger"


def test_grouped_and_resolved(parts: tuple[MetadataDB, list[float]], recorder: Recorder) -> None:
    db, sleeps = parts
    notifier = make(db, sleeps, recorder.url + HOOK_PATH)
    try:
        group = (
            alert(stack="alpha", severity="warning"),
            alert(stack="beta", severity="critical", summary="9 errors on beta"),
            alert(stack="gamma", state=AlertState.RESOLVED, summary="0 errors on gamma"),
        )
        assert notifier.deliver(notification(notifier, *group))
        done = tuple(alert(stack=s, state=AlertState.RESOLVED) for s in ("alpha", "beta"))
        assert notifier.deliver(notification(notifier, *done))
    finally:
        notifier.close()
    grouped, resolved = recorder.bodies
    [attachment] = grouped["attachments"]
    assert grouped["text"] == "[FIRING:2] HighErrorRate"
    assert attachment["color"] == "danger"  # one critical among the firing alerts
    lines = attachment["text"].splitlines()
    assert [line for line in lines if not line.startswith("  ")] == [
        "FIRING: 5 errors on alpha",
        "FIRING: 9 errors on beta",
        "RESOLVED: 0 errors on gamma",
    ]
    assert resolved["text"] == "[RESOLVED] HighErrorRate"
    assert resolved["attachments"][0]["color"] == "good"
    assert all(
        line.startswith(("RESOLVED", "  "))
        for line in resolved["attachments"][0]["text"].splitlines()
    )


def test_alert_text_is_escaped_for_slack_and_links_are_encoded(
    parts: tuple[MetadataDB, list[float]], recorder: Recorder
) -> None:
    # Label values and annotations come from the data (a user id, a model name):
    # unescaped, "<!channel>" in one would ping the whole channel, and "&" would cut
    # the link. The configured text_prefix is the operator's own mention and stays.
    db, sleeps = parts
    notifier = make(
        db,
        sleeps,
        recorder.url + HOOK_PATH,
        extra="        text_prefix: '<!channel> '",
    )
    try:
        hostile = alert(name="Spend&Co", summary="<!channel> spend > 5 & rising")
        assert notifier.deliver(notification(notifier, hostile))
    finally:
        notifier.close()
    [body] = recorder.bodies
    assert body["text"] == "<!channel> [FIRING:1] Spend&amp;Co"
    attachment = body["attachments"][0]
    assert attachment["text"].splitlines()[0] == (
        "FIRING: &lt;!channel&gt; spend &gt; 5 &amp; rising"
    )
    assert "<!channel>" not in attachment["text"] + attachment["title"]
    assert attachment["title_link"].endswith("?alertname=Spend%26Co")


def test_retries_5xx_and_429_with_backoff_then_succeeds(
    parts: tuple[MetadataDB, list[float]], recorder: Recorder
) -> None:
    db, sleeps = parts
    recorder.statuses = [503, 429, 500, 200]
    notifier = make(db, sleeps, recorder.url + HOOK_PATH)
    try:
        assert notifier.deliver(notification(notifier, alert()))
        log = list(reversed(notifier.log.list()))
    finally:
        notifier.close()
    assert len(recorder.bodies) == 1
    assert [a["outcome"] for a in log] == ["retry", "retry", "retry", "success"]
    assert sleeps == [1.0, 2.0, 4.0]  # doubling from backoff_initial
    assert [a["error"][:8] for a in log[:3]] == ["HTTP 503", "HTTP 429", "HTTP 500"]


def test_4xx_is_not_retried(parts: tuple[MetadataDB, list[float]], recorder: Recorder) -> None:
    db, sleeps = parts
    recorder.statuses = [404, 200]  # Slack's "no_service": a retry cannot fix it
    notifier = make(db, sleeps, recorder.url + HOOK_PATH)
    try:
        assert not notifier.deliver(notification(notifier, alert()))
        log = notifier.log.list()
    finally:
        notifier.close()
    assert [a["outcome"] for a in log] == ["failure"] and sleeps == []


def test_webhook_url_never_logged(
    parts: tuple[MetadataDB, list[float]],
    recorder: Recorder,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    db, sleeps = parts
    # The hub's own logs (structlog on stderr) and what stdlib logging emits as the hub
    # leaves it (WARNING and above: httpx's per-request INFO line is not shown).
    caplog.set_level(logging.WARNING)
    dead = f"http://127.0.0.1:{free_port()}{HOOK_PATH}"
    recorder.statuses = [500]
    errors: list[str] = []
    for url in (dead, recorder.url + HOOK_PATH):
        notifier = make(db, sleeps, url, attempts=2)
        try:
            assert not notifier.deliver(notification(notifier, alert()))
            for sender in notifier._senders.values():  # the sender's own error text
                try:
                    sender.send(notification(notifier, alert()), notifier._context())
                except Exception as exc:  # any error: its text is checked below
                    errors.append(str(exc))
        finally:
            notifier.close()
    rows = NotificationLog(db).list(limit=100)
    assert len(rows) == 4 and {r["outcome"] for r in rows} == {"retry", "failure"}
    captured = capsys.readouterr()
    everything = json.dumps(rows) + captured.out + captured.err + caplog.text + "".join(errors)
    assert len(errors) == 2 and "HTTP 500" in errors[1]
    assert SECRET not in everything
    assert "/services/" not in json.dumps([r["target"] for r in rows])
