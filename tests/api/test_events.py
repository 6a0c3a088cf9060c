"""GET /api/v1/events: filters, ordering and stack scoping."""

from __future__ import annotations

from typing import Any

import pytest


def seed(hub: Any, client: Any) -> None:
    events = []
    for i in range(6):
        events.append(
            {
                "event_id": f"e{i}",
                "timestamp": f"2026-01-10T12:00:0{i}Z",
                "stack_name": "alpha" if i % 2 == 0 else "beta",
                "event_type": "llm_call" if i < 3 else "tool_use",
                "session_id": "s1" if i < 4 else "s2",
            }
        )
    assert client.post("/v1/events", json=events).json()["accepted"] == 6
    hub.flush()


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["event_id"] for e in response.json()["events"]]


def test_newest_first_and_each_filter(hub: Any, client: Any) -> None:
    seed(hub, client)
    get = client.get
    assert ids(get("/api/v1/events")) == ["e5", "e4", "e3", "e2", "e1", "e0"]
    assert ids(get("/api/v1/events", params={"stack": "alpha"})) == ["e4", "e2", "e0"]
    assert ids(get("/api/v1/events", params={"event_type": "llm_call"})) == ["e2", "e1", "e0"]
    assert ids(get("/api/v1/events", params={"session_id": "s2"})) == ["e5", "e4"]
    window = {"since": "2026-01-10T12:00:02Z", "until": "2026-01-10T12:00:04Z"}
    assert ids(get("/api/v1/events", params=window)) == ["e3", "e2"]
    assert ids(get("/api/v1/events", params={"limit": 2})) == ["e5", "e4"]


def test_event_fields_come_back_typed(hub: Any, client: Any) -> None:
    client.post(
        "/v1/events",
        json={
            "event_id": "x",
            "timestamp": "2026-01-10T12:00:00Z",
            "stack_name": "alpha",
            "event_type": "llm_call",
            "data": {"model": "gpt-4o-mini", "tokens_in": 10, "cost_usd": 0.5},
            "attributes": {"region": "eu"},
        },
    )
    hub.flush()
    [event] = client.get("/api/v1/events").json()["events"]
    assert event["timestamp"] == "2026-01-10T12:00:00.000000Z"
    assert event["model"] == "gpt-4o-mini" and event["tokens_in"] == 10 and event["cost_usd"] == 0.5
    assert event["attributes"] == {"region": "eu"}


def test_stack_bound_read_key_sees_only_its_stack(hub: Any, client: Any) -> None:
    seed(hub, client)
    _, key = hub.keyring.create("read", stack="beta")
    headers = {"X-API-Key": key}
    assert ids(client.get("/api/v1/events", headers=headers)) == ["e5", "e3", "e1"]
    assert (
        client.get("/api/v1/events", params={"stack": "alpha"}, headers=headers).status_code == 403
    )


def test_ingest_key_cannot_read(hub: Any, client: Any) -> None:
    _, key = hub.keyring.create("ingest")
    assert client.get("/api/v1/events", headers={"X-API-Key": key}).status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 5000},
        {"since": "yesterday"},
        {"event_type": "bogus"},
        {"limit": "x"},
    ],
)
def test_bad_parameters_are_400(client: Any, params: dict[str, Any]) -> None:
    response = client.get("/api/v1/events", params=params)
    assert response.status_code == 400
    assert "error" in response.json()
