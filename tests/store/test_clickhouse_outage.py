"""A ClickHouse outage under a running hub (issue: scale-out, "Outages").

While ClickHouse is unreachable the hub goes on acknowledging into its spool, up to
the backlog bound; past it ingest answers 503 with ``Retry-After`` and ``/health``
names the store as failing. When ClickHouse is back, everything acknowledged is
loaded exactly once: counted both through the API and in the raw table without
``FINAL`` (so a row stored twice would show even before a merge folded it), and in
the rollups the usage API reads.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from stacklens.analytics.rollups import ddl_statements, load_statements
from stacklens.store.clickhouse import ClickHouseStore
from stacklens.store.clickhouse_clients import chdb_clients
from stacklens.store.clickhouse_dialect import CLICKHOUSE
from stacklens.testing import in_process_hub, wait_until
from stacklens.testing.backends import chdb_path
from stacklens.testing.store_outage import Outage, OutageClient

#: Small, so the bound is reached in a few requests (each request is ~10 KB).
BACKLOG_BYTES = 60_000
BATCH = 25


def _batch(n: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"o{n}-{i}",
            "timestamp": "2026-01-10T12:00:00Z",
            "stack_name": "outage",
            "event_type": "llm_call",
            "session_id": f"s{n}",
            "data": {"model": "gpt-4o-mini", "tokens_in": 10, "tokens_out": 1},
        }
        for i in range(BATCH)
    ]


def test_outage_acks_into_the_spool_then_503_and_loads_everything_once_after(
    tmp_path: Path,
) -> None:
    outage = Outage()
    writer, reader = chdb_clients(chdb_path(), f"t_{uuid.uuid4().hex[:16]}")
    raw_reader = reader  # bypasses the outage and FINAL: every stored copy counts
    store = ClickHouseStore(
        OutageClient(writer, outage),
        reader=OutageClient(reader, outage),
        extra_ddl=ddl_statements(CLICKHOUSE),
        load_hooks={"events": load_statements(CLICKHOUSE)},
    )
    with in_process_hub(tmp_path / "data", store=store, max_backlog_bytes=BACKLOG_BYTES) as (
        hub,
        client,
    ):
        outage.begin()
        acked: list[str] = []
        refused = None
        for n in range(200):
            body = _batch(n)
            response = client.post("/v1/events", json=body)
            if response.status_code == 503:
                refused = response
                break
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == BATCH
            acked += [e["event_id"] for e in body]
        # Acknowledged while the store was down, into the spool, then refused at the
        # bound with a retry hint: never a 500, never dropped.
        assert refused is not None, "the backlog bound was never reached"
        assert refused.headers["Retry-After"].isdigit()
        assert len(acked) >= 2 * BATCH
        health = client.get("/health")
        assert health.status_code == 503
        assert "store" in health.json()["failing"]
        assert outage.refused > 0  # the loader kept trying

        outage.end()

        def loaded() -> int | None:
            count = int(raw_reader.query("SELECT count() FROM events").result_rows[0][0])
            return count if count >= len(acked) else None

        wait_until(loaded, timeout=60)
        hub.flush()
        rows = raw_reader.query(
            "SELECT count(), uniqExact(event_id) FROM events", settings={"final": 0}
        ).result_rows[0]
        assert (rows[0], rows[1]) == (len(acked), len(acked))  # each once, no copy
        found = client.get("/api/v1/events", params={"stack": "outage", "limit": 1000})
        assert sorted(e["event_id"] for e in found.json()["events"]) == sorted(acked)
        usage = client.get(
            "/api/v1/usage",
            params={"stack": "outage", "since": "2026-01-10T00:00:00Z",
                    "until": "2026-01-11T00:00:00Z", "measures": "llm_calls,tokens_in"},
        )  # fmt: skip
        assert usage.status_code == 200, usage.text
        series = usage.json()["series"]  # hourly steps: read from the rollups
        assert sum(r["llm_calls"] for r in series) == len(acked)
        assert sum(r["tokens_in"] for r in series) == 10 * len(acked)
        assert client.get("/health").json()["status"] == "ok"
        # Ingest is open again.
        assert client.post("/v1/events", json=_batch(999)).status_code == 200
