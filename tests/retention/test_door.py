"""At the door: an event or metric point older than its stack's events retention is
refused per item, naming the retention; one a little late but inside it is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stacklens.server import Hub, create_app
from stacklens.testing import ADMIN_KEY, hub_config

DAY_NS = 86400 * 10**9


def _event(event_id: str, ts_ns: int, stack: str = "acme") -> dict[str, object]:
    return {
        "event_id": event_id,
        "event_type": "heartbeat",
        "stack_name": stack,
        "timestamp": ts_ns,
    }


@pytest.mark.parametrize("workers", [0, 1])
def test_old_events_are_refused_naming_the_retention(tmp_path: Path, workers: int) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("stacks:\n  keeper:\n    retention: {events: 30d}\n")
    hub = Hub(
        hub_config(
            tmp_path / "data",
            retention_events="7d",
            privacy_file=policy,
            ingest_workers=workers,
            alerting_enabled=False,
        )
    )
    hub.bootstrap_admin()
    now = hub.clock()
    with TestClient(create_app(hub)) as client:
        client.headers["X-API-Key"] = ADMIN_KEY
        answer = client.post(
            "/v1/events",
            json=[
                _event("late", now - 6 * DAY_NS),
                _event("old", now - 8 * DAY_NS),
                _event("kept-longer", now - 8 * DAY_NS, stack="keeper"),
            ],
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["accepted"] == 2
        assert body["rejected"] == [{"index": 1, "error": "older than events retention (7d)"}]
        point_ts = now - 9 * DAY_NS
        metrics = client.post(
            "/v1/metrics",
            json={
                "resourceMetrics": [
                    {
                        "resource": {
                            "attributes": [{"key": "stack.name", "value": {"stringValue": "acme"}}]
                        },
                        "scopeMetrics": [
                            {
                                "metrics": [
                                    {
                                        "name": "queue_depth",
                                        "gauge": {
                                            "dataPoints": [
                                                {"timeUnixNano": str(point_ts), "asInt": "3"},
                                                {"timeUnixNano": str(now), "asInt": "4"},
                                            ]
                                        },
                                    }
                                ]
                            }
                        ],
                    }
                ]
            },
        )
        assert metrics.status_code == 200, metrics.text
        partial = metrics.json()["partialSuccess"]
        assert int(partial["rejectedDataPoints"]) == 1  # int64: a string in OTLP JSON
        assert "older than events retention (7d)" in partial["errorMessage"]
        hub.flush()
        stored = {e["event_id"] for e in client.get("/api/v1/events").json()["events"]}
        assert stored == {"late", "kept-longer"}
