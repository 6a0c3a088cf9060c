from __future__ import annotations

from typing import Any


def test_health_ok_lists_every_part(client: Any) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"spool", "loader", "store", "metadata", "alerting"}
    # SQLite metadata: one hub, always the one running the alert engine.
    assert body["checks"]["alerting"] == {"ok": True, "role": "leader", "election": "single"}
    assert client.get("/ready").status_code == 200


def test_failing_parts_make_health_503(hub: Any, client: Any) -> None:
    hub.loader.stop()
    hub.alerts.stop()  # no reader may hold the connection while it closes
    hub.store.close()  # the store stops answering
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["failing"] == ["loader", "store"]
    assert body["checks"]["store"]["error"]
    assert client.get("/ready").status_code == 503


def test_metrics_needs_a_read_key_for_all_stacks(hub: Any, client: Any) -> None:
    assert client.get("/metrics").status_code == 200  # the admin key
    assert client.get("/metrics", headers={"X-API-Key": "slk_nope"}).status_code == 401
    _, bound = hub.keyring.create("read", stack="alpha")
    assert client.get("/metrics", headers={"X-API-Key": bound}).status_code == 403
    _, ingest = hub.keyring.create("ingest")
    assert client.get("/metrics", headers={"X-API-Key": ingest}).status_code == 403
    client.headers.pop("X-API-Key")
    assert client.get("/metrics").status_code == 401
