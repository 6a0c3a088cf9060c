"""One maximal request must not stall the hub for everybody else (issue 11)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from stacklens.config import HubConfig
from stacklens.testing import HubProcess
from stacklens.testing.otlp import json_span, traces_body


def maximal_otlp_json(stack: str) -> bytes:
    """As many spans as one request may carry, within the body-size limit."""
    defaults = HubConfig()
    now = time.time_ns()
    body = traces_body([json_span(i, now) for i in range(defaults.max_items_per_request)], stack)
    assert len(body) <= defaults.max_body_bytes
    return body


def test_small_requests_keep_their_latency_beside_a_maximal_one(tmp_path: Path) -> None:
    big = maximal_otlp_json("bulk")
    small_event = {
        "timestamp": "2026-01-10T12:00:00Z",
        "event_type": "log",
        "stack_name": "interactive",
        "message": "tick",
    }
    with HubProcess(tmp_path / "data") as hub, hub.client() as client:
        for _ in range(10):  # warm up: first-request costs are not what is measured
            assert client.post("/v1/events", json=small_event).status_code == 200
        answer: dict[str, object] = {}

        def send_big() -> None:
            response = httpx.post(
                f"{hub.url}/v1/traces",
                content=big,
                headers={"X-API-Key": hub.admin_key, "Content-Type": "application/json"},
                timeout=120,
            )
            answer["status"] = response.status_code

        latencies: list[float] = []
        # Three maximal requests, one after the other (one in flight at a time), so the
        # p99 rests on ~250 samples rather than on the single slowest of ~80.
        for _ in range(3):
            sender = threading.Thread(target=send_big)
            sender.start()
            while sender.is_alive():
                started = time.perf_counter()
                assert client.post("/v1/events", json=small_event).status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)  # bounded load: about 40 small requests a second
            sender.join()
            assert answer["status"] == 200
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        assert len(latencies) >= 30, latencies  # the big requests really were in flight
        assert p99 < 0.100, f"small-request p99 {p99 * 1000:.0f} ms over {len(latencies)} requests"
