"""The network path itself: a real `stacklens serve` process on 127.0.0.1."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec

from stacklens.testing import HubProcess, wait_until


def test_events_over_real_http_become_queryable(tmp_path: Path) -> None:
    events = [
        {
            "event_id": f"r{i}",
            "timestamp": "2026-01-10T12:00:00Z",
            "stack_name": "john-dev",
            "event_type": "llm_call",
            "data": {"model": "gpt-4o-mini", "tokens_in": i},
        }
        for i in range(50)
    ]
    body = gzip.compress(b"\n".join(msgspec.json.encode(e) for e in events))
    with HubProcess(tmp_path / "data") as hub, hub.client() as client:
        response = client.post(
            "/v1/events",
            content=body,
            headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
        )
        assert response.json() == {"accepted": 50, "rejected": []}

        def all_visible() -> list[dict[str, object]] | None:
            found = client.get("/api/v1/events", params={"limit": 100}).json()["events"]
            return found if len(found) == 50 else None

        found = wait_until(all_visible, timeout=10)
        assert sorted(e["tokens_in"] for e in found) == list(range(50))
        assert client.get("/health").json()["status"] == "ok"
