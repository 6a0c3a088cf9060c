"""A real ``stacklens serve`` on ``STACKLENS_STORE_URL=chdb:///...``: events over HTTP
are loaded into ClickHouse (embedded) and answered by the API."""

from __future__ import annotations

from pathlib import Path

import msgspec

from stacklens.testing import HubProcess, wait_until


def test_hub_on_chdb_ingests_and_answers(tmp_path: Path) -> None:
    events = [
        {
            "event_id": f"c{i}",
            "timestamp": "2026-01-10T12:00:00Z",
            "stack_name": "john-dev",
            "event_type": "llm_call",
            "data": {"model": "gpt-4o-mini", "tokens_in": i},
        }
        for i in range(40)
    ]
    body = b"\n".join(msgspec.json.encode(e) for e in events)
    env = {"STACKLENS_STORE_URL": f"chdb://{tmp_path / 'chdb'}"}
    with HubProcess(tmp_path / "data", env=env) as hub, hub.client() as client:
        sent = client.post(
            "/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        assert sent.json() == {"accepted": 40, "rejected": []}
        again = client.post(  # a client's retry of the same batch
            "/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        assert again.status_code == 200

        def all_visible() -> list[dict[str, object]] | None:
            found = client.get("/api/v1/events", params={"limit": 100}).json()["events"]
            return found if len(found) >= 40 else None

        found = wait_until(all_visible, timeout=20)
        assert sorted(e["tokens_in"] for e in found) == list(range(40))  # once each
        assert client.get("/health").json()["status"] == "ok"
    assert not (tmp_path / "data" / "events.duckdb").exists()  # the store is ClickHouse
    assert (tmp_path / "chdb").is_dir()
