"""Alert values carry their unit (issue 12 item 7): derived from the rule (a ``unit``
annotation, else the signal), shown in notifications, the API and the console."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stacklens.alerting.defaults import default_rules
from stacklens.alerting.dispatch import Notification
from stacklens.alerting.message_templates import format_with_unit
from stacklens.alerting.receivers.slack import slack_payload
from stacklens.alerting.rules import rule_unit
from stacklens.testing import ADMIN_KEY, ManualClock, hub_config

S = 10**9
NOW = 1_768_046_400 * S


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.2, "ratio", "20%"),
        (0.0125, "ratio", "1.25%"),
        (0.35, "seconds", "350ms"),
        (4.25, "seconds", "4.25s"),
        (125.0, "seconds", "2m 5s"),
        (12.345, "USD", "$12.35"),
        (1234.5, "USD", "$1,234.50"),
        (0.0, "bool", "down"),
        (0.25, "errors/s", "250m errors/s"),
        (1500.0, "tokens", "1.5k tokens"),
        (93.5, "%", "93.5%"),
        (87.0, "°C", "87°C"),
        (0.3, "", "300m"),
    ],
)
def test_format_with_unit(value: float, unit: str, text: str) -> None:
    assert format_with_unit(value, unit) == text


def test_default_rules_have_units() -> None:
    units = {r.name: rule_unit(r) for r in default_rules().rules()}
    assert units["HighErrorRatio"] == "ratio"
    assert units["HighErrorRate"] == "errors/s"
    assert units["HighLLMLatency"] == "seconds"
    assert units["ServiceDown"] == "seconds"
    assert units["LLMCostSpike"] == "USD"
    assert units["StackUnhealthy"] == "bool"
    assert units["HighGPUUtilization"] == "%"
    assert units["HighGPUTemperature"] == "°C"
    assert units["HighGPUMemory"] == "ratio"  # divide_by: a ratio


def sign_in(client: TestClient) -> None:
    def csrf(html: str) -> str:
        match = re.search(r'name="csrf" value="([^"]+)"', html)
        assert match
        return match.group(1)

    form = client.get("/login")
    client.post("/login", data={"csrf": csrf(form.text), "key": ADMIN_KEY, "next": "/alerts"})


def test_units_on_alert_values_in_api_console_and_notifications(tmp_path: Path) -> None:
    from stacklens.server import Hub, create_app

    clock = ManualClock(NOW)
    hub = Hub(hub_config(tmp_path / "data"), clock=clock)
    hub.bootstrap_admin()
    calls = [
        {
            "event_id": f"call-{i}",
            "timestamp": NOW - (i + 1) * S,
            "stack_name": "alpha",
            "event_type": "llm_call",
            "data": {"model": "gpt-4o-mini", "duration_ms": 900.0, "success": i >= 2},
        }
        for i in range(10)
    ]
    with TestClient(create_app(hub), follow_redirects=False) as client:
        assert client.post("/v1/events", json=calls, headers={"X-API-Key": ADMIN_KEY}).is_success
        hub.flush()
        assert hub.alerts is not None
        clock.advance(31)  # the engine's thread already ran the first pass
        hub.alerts.tick()
        alerts = client.get("/api/v1/alerts", headers={"X-API-Key": ADMIN_KEY}).json()["alerts"]
        ratio = next(a for a in alerts if a["labels"]["alertname"] == "HighErrorRatio")
        assert (ratio["value"], ratio["unit"], ratio["value_text"]) == (0.2, "ratio", "20%")
        sign_in(client)
        page = client.get("/alerts").text
        row = page[page.index('data-rule="errors/HighErrorRatio"') :]
        assert '<td class="num">20%</td>' in row[: row.index("</tr>")]
        alert = next(
            a for a in hub.alerts.all_alerts() if a.labels["alertname"] == "HighErrorRatio"
        )
        notification = Notification(
            integration=None,  # type: ignore[arg-type]  # slack_payload never reads it
            group_key="{}",
            group_labels={"alertname": "HighErrorRatio"},
            alerts=(alert,),
            firing=frozenset({alert.fingerprint}),
            resolved=frozenset(),
        )
        payload = slack_payload(notification, "http://hub", {})
        assert "value: 20%" in str(payload)
