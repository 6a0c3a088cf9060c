"""Poison on a real hub: each trigger of a stalled loader, sent between ordinary
batches from other stacks. The door refuses what it can check; what slips past it
(written straight into the spool) is quarantined by the loader. Every ordinary event
becomes queryable within the usual lag either way."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import httpx
import msgspec

from stacklens.testing import ADMIN_KEY, HubProcess, wait_until
from stacklens.testing.poison import ordinary_rows, poison_rows, write_to_spool

STACKS = ("alpha", "beta", "gamma")


def _ordinary(stack: str, start: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{stack}-{i:05d}",
            "event_type": "llm_call",
            "timestamp": "2026-01-10T12:00:00Z",
            "stack_name": stack,
            "data": {"model": "gpt-4o", "tokens_in": 100, "cost_usd": 0.5},
        }
        for i in range(start, start + count)
    ]


def _otlp_metric(ts: str) -> dict[str, Any]:
    return {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "s"}}]
                },
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "queue.depth",
                                "gauge": {"dataPoints": [{"timeUnixNano": ts, "asDouble": 1.0}]},
                            }
                        ]
                    }
                ],
            }
        ]
    }


def _otlp_span(tokens: int) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "s"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "chat",
                                "startTimeUnixNano": "1768046400000000000",
                                "endTimeUnixNano": "1768046401000000000",
                                "attributes": [
                                    {
                                        "key": "gen_ai.usage.input_tokens",
                                        "value": {"intValue": str(tokens)},
                                    }
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }


def _door_poisons(client: httpx.Client) -> list[str]:
    """Every trigger the door can check; each answer names the field."""
    base = {"event_type": "llm_call", "stack_name": "mallory"}
    now = "2026-01-10T12:00:00Z"
    cases: list[tuple[str, Any, str]] = [
        ("year 1", {**base, "timestamp": "0001-01-01T00:00:00Z"}, "timestamp: out of range"),
        ("year 1677", {**base, "timestamp": "1677-09-20T00:00:00Z"}, "timestamp: out of range"),
        (
            "tokens sum",
            [{**base, "timestamp": now, "data": {"tokens_in": 2**63 - 1}}] * 2,
            "data.tokens_in: out of range",
        ),
        ("cost", {**base, "timestamp": now, "data": {"cost_usd": 1e308}}, "data.cost_usd"),
        ("negative cost", {**base, "timestamp": now, "data": {"cost_usd": -1e308}}, "cost_usd"),
        (
            "big data value",
            {**base, "timestamp": now, "data": {"blob": "x" * 100_000}},
            "data.blob",
        ),
        (
            "many data keys",
            {**base, "timestamp": now, "data": {f"k{i}": 1 for i in range(1000)}},
            "more than 256 attributes",
        ),
    ]
    seen = []
    for name, body, reason in cases:
        response = client.post("/v1/events", json=body)
        assert response.status_code == 400, (name, response.text)
        assert reason in response.text, (name, response.text)
        seen.append(name)
    deep = (
        b'{"event_type": "log", "timestamp": 1, "attributes": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    )
    response = client.post("/v1/events", content=deep, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "nested" in response.text
    metric = client.post(
        "/v1/metrics", json=_otlp_metric(str(2**63)), headers={"X-Stack-Name": "mallory"}
    )
    assert metric.status_code == 400 and "timeUnixNano: out of range" in metric.text
    span = client.post("/v1/traces", json=_otlp_span(-5), headers={"X-Stack-Name": "mallory"})
    assert span.status_code == 400 and "data.tokens_in" in span.text, span.text
    return seen


def _stored(client: httpx.Client, stack: str) -> set[str]:
    answer = client.get("/api/v1/events", params={"stack": stack, "limit": 1000}).json()
    return {e["event_id"] for e in answer["events"]}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stacklens.cli", "quarantine", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_poison_never_stalls_loading_for_other_stacks(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    hub = HubProcess(data_dir).start()
    expected: dict[str, set[str]] = {stack: set() for stack in STACKS}
    try:
        with hub.client() as client:
            for round_ in range(3):
                for stack in STACKS:
                    batch = _ordinary(stack, round_ * 10, 10)
                    assert client.post("/v1/events", json=batch).status_code == 200
                    expected[stack] |= {e["event_id"] for e in batch}
                _door_poisons(client)
            # Two gzip members in one body: both are read, none dropped.
            members = gzip.compress(
                msgspec.json.encode(_ordinary("alpha", 100, 1)[0])
            ) + gzip.compress(b"\n" + msgspec.json.encode(_ordinary("alpha", 101, 1)[0]))
            response = client.post(
                "/v1/events",
                content=members,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"},
            )
            assert response.json()["accepted"] == 2, response.text
            expected["alpha"] |= {"alpha-00100", "alpha-00101"}
    finally:
        hub.stop()

    # Past the door: rows the store refuses, acknowledged into the spool directly,
    # between ordinary rows of another stack.
    poison = [row for rows in poison_rows().values() for row in rows]
    lines = (
        ordinary_rows("delta", 10, prefix="delta")
        + poison
        + ordinary_rows("delta", 10, prefix="delta-late")
    )
    con = duckdb.connect(str(data_dir / "events.duckdb"), read_only=True)
    checkpoints = dict(con.execute("SELECT stream, segment FROM spool_checkpoints").fetchall())
    con.close()
    write_to_spool(data_dir / "spool" / "events", lines, after_segment=checkpoints["events"])
    metric_ok = msgspec.json.encode(
        {"point_id": "ok", "ts": 1_768_046_400 * 10**9, "stack_name": "delta", "name": "m",
         "kind": "gauge", "value": 1.0}
    )  # fmt: skip
    metric_bad = msgspec.json.encode(
        {"point_id": "bad", "ts": 2**63, "stack_name": "delta", "name": "m", "kind": "gauge"}
    )
    write_to_spool(
        data_dir / "spool" / "metrics",
        [metric_ok, metric_bad],
        after_segment=checkpoints.get("metrics", 0),
    )
    expected["delta"] = {f"delta-{i:05d}" for i in range(10)} | {
        f"delta-late-{i:05d}" for i in range(10)
    }

    hub = HubProcess(data_dir, port=hub.port).start()
    try:
        with hub.client() as client:
            for stack in STACKS:  # and ordinary traffic keeps flowing after the poison
                batch = _ordinary(stack, 500, 5)
                assert client.post("/v1/events", json=batch).status_code == 200
                expected[stack] |= {e["event_id"] for e in batch}
            for stack, ids in expected.items():
                wait_until(lambda s=stack, i=ids: _stored(client, s) >= i, timeout=10)
            # The poison's stack keeps nothing the store refused; p-tok-1 alone fits.
            assert _stored(client, "poison") == {"p-tok-1"}
            points = client.get("/api/v1/metrics/m", params={"since": "2026-01-01T00:00:00Z"})
            assert [p["point_id"] for p in points.json()["points"]] == ["ok"], points.text

            health = client.get("/health").json()
            assert health["status"] == "ok", health
            quarantine = health["checks"]["loader"]["quarantine"]
            assert quarantine["rows"] == {"events": 5, "metrics": 1}
            metrics = client.get("/metrics").text
            assert 'stacklens_quarantined_events_total{stream="events"} 5.0' in metrics
            assert 'stacklens_quarantined_events_total{stream="metrics"} 1.0' in metrics

            listed = client.get("/api/v1/quarantine").json()
            assert len(listed["entries"]) == 6
            assert {e["stream"] for e in listed["entries"]} == {"events", "metrics"}
            assert all(e["error"] and e["data"] for e in listed["entries"])

        cli = _cli("list", "--url", hub.url, "--key", ADMIN_KEY)
        assert cli.returncode == 0, cli.stderr
        assert "6 entries, 6 rows quarantined" in cli.stderr
        retried = _cli("retry", "--url", hub.url, "--key", ADMIN_KEY)
        assert retried.returncode == 1 and "6 of 6 entries still refused" in retried.stderr
        offline = _cli("retry", "--data-dir", str(data_dir))
        assert offline.returncode == 1 and "use --url" in offline.stderr  # the hub holds it
    finally:
        hub.stop()

    # Without a hub: list and retry straight on the data directory.
    listed_offline = _cli("list", "--data-dir", str(data_dir), "--json")
    assert listed_offline.returncode == 0, listed_offline.stderr
    entries = msgspec.json.decode(listed_offline.stdout)["entries"]
    assert len(entries) == 6 and all(e["attempts"] == 1 for e in entries)
    one = next(e for e in entries if e["stream"] == "metrics")
    retried_offline = _cli("retry", "--data-dir", str(data_dir), f"metrics/{one['id']}")
    assert retried_offline.returncode == 1 and "still refused" in retried_offline.stdout
