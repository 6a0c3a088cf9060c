from __future__ import annotations

from typing import Any


def test_health_ok_lists_every_part(client: Any) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"spool", "loader", "store", "metadata"}
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
