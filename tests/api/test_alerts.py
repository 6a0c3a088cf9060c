"""The alerting API: alerts, rules, history, silences (admin), notifications, scoping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stacklens.alerting.alerting_service import AlertingService
from stacklens.testing import ManualClock
from stacklens.testing.alerting import hub_with_engine

S = 10**9


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Any, TestClient, AlertingService, ManualClock]]:
    with hub_with_engine(tmp_path / "data") as parts:
        yield parts


def ingest_errors(hub: Any, client: TestClient, clock: ManualClock, stack: str) -> None:
    body = [
        {"timestamp": clock() - i * S, "stack_name": stack, "event_type": "error"}
        for i in range(60)
    ]
    assert client.post("/v1/events", json=body).status_code in (200, 202)
    hub.flush()


def test_alerts_rules_history(setup: tuple[Any, TestClient, AlertingService, ManualClock]) -> None:
    hub, client, engine, clock = setup
    ingest_errors(hub, client, clock, "alpha")
    engine.tick()
    alerts = client.get("/api/v1/alerts").json()["alerts"]
    assert {(a["labels"]["alertname"], a["state"]) for a in alerts} >= {
        ("HighErrorRate", "pending")
    }
    assert client.get("/api/v1/alerts", params={"state": "firing"}).json()["alerts"] == []
    groups = client.get("/api/v1/rules").json()["groups"]
    rules = {r["name"]: r for g in groups for r in g["rules"]}
    assert rules["HighErrorRate"]["health"] == "ok"
    assert rules["HighErrorRate"]["alerts"]["pending"] == 1
    assert rules["HighErrorRate"]["promql"].startswith("sum by (stack_name)")
    assert rules["ServiceDown"]["promql"] is None and rules["ServiceDown"]["not_exportable"]
    history = client.get("/api/v1/alerts/history").json()["history"]
    assert any(
        h["rule_key"] == "errors/HighErrorRate" and h["current"] == "pending" for h in history
    )
    assert client.get("/api/v1/notifications").json() == {"notifications": []}


def test_stack_bound_keys_see_their_stack_only(
    setup: tuple[Any, TestClient, AlertingService, ManualClock],
) -> None:
    hub, client, engine, clock = setup
    ingest_errors(hub, client, clock, "alpha")
    ingest_errors(hub, client, clock, "beta")
    engine.tick()
    _, key = hub.keyring.create("read", stack="beta")
    alerts = client.get("/api/v1/alerts", headers={"X-API-Key": key}).json()["alerts"]
    assert alerts and {a["labels"]["stack_name"] for a in alerts} == {"beta"}
    history = client.get("/api/v1/alerts/history", headers={"X-API-Key": key}).json()["history"]
    assert {h["labels"]["stack_name"] for h in history} == {"beta"}


def test_silences_need_admin(setup: tuple[Any, TestClient, AlertingService, ManualClock]) -> None:
    hub, client, _engine, _clock = setup
    _, read_key = hub.keyring.create("read")
    body = {"matchers": ['alertname="HighErrorRate"'], "duration": "2h", "comment": "deploy"}
    assert (
        client.post("/api/v1/silences", json=body, headers={"X-API-Key": read_key}).status_code
        == 403
    )
    created = client.post("/api/v1/silences", json=body)
    assert created.status_code == 201
    silence_id = created.json()["silenceID"]
    listed = client.get("/api/v1/silences", headers={"X-API-Key": read_key}).json()["silences"]
    assert [s["id"] for s in listed] == [silence_id]
    assert listed[0]["status"]["state"] == "active" and listed[0]["comment"] == "deploy"
    assert (
        client.delete(f"/api/v1/silences/{silence_id}", headers={"X-API-Key": read_key}).status_code
        == 403
    )
    assert client.delete(f"/api/v1/silences/{silence_id}").status_code == 200
    assert client.delete(f"/api/v1/silences/{silence_id}").status_code == 404
    assert client.get("/api/v1/silences").json()["silences"] == []
    assert (
        len(client.get("/api/v1/silences", params={"include_expired": True}).json()["silences"])
        == 1
    )
    bad = client.post("/api/v1/silences", json={"matchers": ["nonsense"], "duration": "1h"})
    assert bad.status_code == 400
    am_shape = client.post(
        "/api/v1/silences",
        json={
            "matchers": [
                {"name": "stack_name", "value": "dev-.*", "isRegex": True, "isEqual": True}
            ],
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "2026-01-02T00:00:00Z",
            "createdBy": "ops",
        },
    )
    assert am_shape.status_code == 201
    assert client.get("/api/v1/alerts", headers={"X-API-Key": "wrong"}).status_code == 401
