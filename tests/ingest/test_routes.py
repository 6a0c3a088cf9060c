"""Every answer of POST /v1/events (and its /ingest alias), in-process."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import msgspec
import pytest

from stacklens.testing import in_process_hub

TS = "2026-01-10T12:00:00.000Z"


def ev(**fields: Any) -> dict[str, Any]:
    return {"timestamp": TS, "event_type": "message", "stack_name": "john-dev", **fields}


def ndjson(events: list[dict[str, Any]]) -> bytes:
    return b"\n".join(msgspec.json.encode(e) for e in events)


def stored(hub: Any, client: Any, **params: Any) -> list[dict[str, Any]]:
    hub.flush()
    response = client.get("/api/v1/events", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["events"]


def test_valid_events_stored_even_when_neighbours_rejected(hub: Any, client: Any) -> None:
    body = [
        ev(event_id="a1"),
        ev(event_type="bogus"),
        ev(event_id="a3"),
        {"event_type": "log", "stack_name": "john-dev"},
    ]
    response = client.post("/v1/events", json=body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == 2
    assert [r["index"] for r in answer["rejected"]] == [1, 3]
    assert "event_type" in answer["rejected"][0]["error"]
    assert "timestamp is required" in answer["rejected"][1]["error"]
    assert sorted(e["event_id"] for e in stored(hub, client)) == ["a1", "a3"]


def test_ndjson_gzip_and_seed_ingest_alias(hub: Any, client: Any) -> None:
    body = gzip.compress(ndjson([ev(event_id=f"n{i}") for i in range(5)]))
    response = client.post(
        "/ingest",
        content=body,
        headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
    )
    assert response.json() == {"accepted": 5, "rejected": []}
    assert len(stored(hub, client)) == 5


def test_seed_javascript_hook_payload_with_stack_header(hub: Any, client: Any) -> None:
    # Exactly what seed 000 §3.2.1/§3.2.2 Option A sends.
    hook_event = {
        "type": "tool_use",
        "stackName": "john-dev",
        "sessionId": "sess_abc123",
        "tool": "bash",
        "argsHash": "9f2c",
        "success": True,
        "duration": 2340,
        "timestamp": TS,
    }
    response = client.post("/ingest", json=hook_event, headers={"X-Stack-Name": "john-dev"})
    assert response.status_code == 200, response.text
    [event] = stored(hub, client)
    assert event["event_type"] == "tool_use" and event["session_id"] == "sess_abc123"
    assert event["tool"] == "bash" and event["duration_ms"] == 2340 and event["args_hash"] == "9f2c"


def test_stack_header_fills_missing_stack(hub: Any, client: Any) -> None:
    event = ev()
    del event["stack_name"]
    assert (
        client.post("/v1/events", json=event, headers={"X-Stack-Name": "from-header"}).status_code
        == 200
    )
    assert stored(hub, client)[0]["stack_name"] == "from-header"


def test_nothing_valid_is_400_with_reasons(client: Any) -> None:
    response = client.post("/v1/events", json=[{"event_type": "nope"}, {"timestamp": TS}])
    assert response.status_code == 400
    assert response.json()["accepted"] == 0
    assert len(response.json()["rejected"]) == 2
    assert client.post("/v1/events", content=b"{not json").status_code == 400


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "slk_unknown"}, {"Authorization": "Bearer slk_unknown"}],
)
def test_missing_or_unknown_key_is_401(client: Any, headers: dict[str, str]) -> None:
    client.headers.pop("X-API-Key")
    response = client.post("/v1/events", json=ev(), headers=headers)
    assert response.status_code == 401
    assert "error" in response.json()


def test_bearer_key_works_and_revoked_key_is_401(hub: Any, client: Any) -> None:
    record, key = hub.keyring.create("ingest")
    client.headers.pop("X-API-Key")
    auth = {"Authorization": f"Bearer {key}"}
    assert client.post("/v1/events", json=ev(), headers=auth).status_code == 200
    hub.keyring.revoke(record.key_id)
    assert client.post("/v1/events", json=ev(), headers=auth).status_code == 401


def test_stack_bound_key_cannot_write_another_stack(hub: Any, client: Any) -> None:
    _, key = hub.keyring.create("ingest", stack="john-dev")
    headers = {"X-API-Key": key}
    assert client.post("/v1/events", json=ev(), headers=headers).status_code == 200
    other = client.post("/v1/events", json=[ev(), ev(stack_name="someone-else")], headers=headers)
    assert other.status_code == 403
    header_mismatch = client.post("/v1/events", json=ev(), headers={**headers, "X-Stack-Name": "x"})
    assert header_mismatch.status_code == 403
    # An event without a stack takes the key's.
    event = ev()
    del event["stack_name"]
    assert client.post("/v1/events", json=event, headers=headers).status_code == 200
    assert {e["stack_name"] for e in stored(hub, client)} == {"john-dev"}


def test_read_key_cannot_write(hub: Any, client: Any) -> None:
    _, key = hub.keyring.create("read")
    assert client.post("/v1/events", json=ev(), headers={"X-API-Key": key}).status_code == 403


def test_unknown_content_type_is_415(client: Any) -> None:
    response = client.post(
        "/v1/events", content=b"<xml/>", headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 415


def test_body_over_limit_is_413(tmp_path: Path) -> None:
    with in_process_hub(tmp_path / "d", max_body_bytes=1000) as (_, client):
        big = ndjson([ev(message="x" * 200) for _ in range(10)])
        assert client.post("/v1/events", content=big).status_code == 413
        bomb = gzip.compress(ndjson([ev(message="y" * 200) for _ in range(10)]))
        assert len(bomb) < 1000
        response = client.post("/v1/events", content=bomb, headers={"Content-Encoding": "gzip"})
        assert response.status_code == 413


def test_backlog_over_bound_is_503_with_retry_after(tmp_path: Path) -> None:
    with in_process_hub(tmp_path / "d", max_backlog_bytes=2000, loader_interval_s=3600) as (
        hub,
        client,
    ):
        hub.loader.stop()  # nothing drains the spool
        statuses = [client.post("/v1/events", json=[ev()] * 5).status_code for _ in range(10)]
        assert statuses[0] == 200
        assert 503 in statuses
        response = client.post("/v1/events", json=ev())
        assert response.status_code == 503
        assert response.headers["Retry-After"].isdigit()


def test_ingest_counts_in_hub_metrics(client: Any) -> None:
    client.post("/v1/events", json=[ev(), ev(event_type="x")])
    text = client.get("/metrics").text
    assert 'stacklens_ingest_events_accepted_total{protocol="native"} 1.0' in text
    assert 'stacklens_ingest_events_rejected_total{protocol="native"} 1.0' in text
