"""Native ingest through worker processes answers exactly as in-process ingest."""

from __future__ import annotations

from pathlib import Path

from stacklens.testing import HubProcess, wait_until
from stacklens.testing.secrets import GITHUB_PAT_CLASSIC

TS = "2026-01-10T12:00:00Z"


def test_worker_pool_ingest_matches_in_process_behaviour(tmp_path: Path) -> None:
    with (
        HubProcess(tmp_path / "data", env={"STACKLENS_INGEST_WORKERS": "1"}) as hub,
        hub.client() as client,
    ):
        events = [
            {
                "event_id": "w1",
                "timestamp": TS,
                "stack_name": "pool",
                "event_type": "log",
                "message": f"pushed with {GITHUB_PAT_CLASSIC}",
            },
            {"event_id": "w2", "timestamp": TS, "stack_name": "pool", "event_type": "bogus"},
        ]
        response = client.post("/v1/events", json=events)
        assert response.status_code == 200
        assert response.json()["accepted"] == 1
        assert [r["index"] for r in response.json()["rejected"]] == [1]
        assert client.post("/v1/events", content=b"{not json").status_code == 400

        _, bound = hub_key(hub, stack="pool")
        forbidden = client.post(
            "/v1/events", json={**events[0], "stack_name": "other"}, headers={"X-API-Key": bound}
        )
        assert forbidden.status_code == 403

        [stored] = wait_until(
            lambda: client.get("/api/v1/events", params={"stack": "pool"}).json()["events"]
        )
        assert stored["event_id"] == "w1"
        assert GITHUB_PAT_CLASSIC not in stored["message"] and "[REDACTED:" in stored["message"]
        metrics = client.get("/metrics").text
        assert 'stacklens_redactions_total{rule="github"}' in metrics


def hub_key(hub: HubProcess, *, stack: str) -> tuple[str, str]:
    from stacklens.metadata import KeyRing, MetadataDB

    record, key = KeyRing(MetadataDB.in_data_dir(hub.data_dir)).create("ingest", stack=stack)
    return record.key_id, key
