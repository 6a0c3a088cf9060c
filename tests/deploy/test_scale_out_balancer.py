"""The scale-out stack's HAProxy config run for real: Debian's haproxy with the shipped
haproxy.cfg, only the replicas' addresses and the bound ports changed to loopback ones,
in front of two real hub processes. HTTP requests go round robin to both replicas; when
one dies, requests go to the other and none is refused. OTLP/gRPC passes through the
balancer's TCP port to a replica, also when one is dead."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from stacklens.testing import HubProcess, free_port, require_binary, wait_until

pytestmark = [pytest.mark.slow]

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
CONFIG = Path(__file__).resolve().parents[2] / "deploy/compose/scale-out/haproxy/haproxy.cfg"


def loopback_config(hubs: dict[str, HubProcess], http_port: int, grpc_port: int) -> str:
    text = CONFIG.read_text()
    for name, hub in hubs.items():
        text = text.replace(
            f"{name}:4317 check port 4320", f"127.0.0.1:{hub.grpc_port} check port {hub.port}"
        )
        text = text.replace(f"{name}:4320", f"127.0.0.1:{hub.port}")
    replaced = {
        "bind :4320": f"bind 127.0.0.1:{http_port}",
        "bind :4317": f"bind 127.0.0.1:{grpc_port}",
        "bind :8404": f"bind 127.0.0.1:{free_port()}",
    }
    for old, new in replaced.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    assert "stacklens-1:" not in text and "stacklens-2:" not in text
    return text


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, HubProcess]]]:
    haproxy = require_binary("haproxy", package="haproxy")
    hubs = {name: HubProcess(tmp_path / name / "data") for name in ("stacklens-1", "stacklens-2")}
    http_port, grpc_port = free_port(), free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(loopback_config(hubs, http_port, grpc_port))
    balancer: subprocess.Popen[bytes] | None = None
    try:
        for hub in hubs.values():
            (tmp_path / hub.data_dir.parent.name).mkdir(exist_ok=True)
            hub.start()
        balancer = subprocess.Popen(
            [haproxy, "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "haproxy.log").open("wb"),
        )
        url = f"http://127.0.0.1:{http_port}"

        def ready() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/ready", timeout=2).status_code == 200
            return False

        wait_until(ready, timeout=20)
        yield url, f"127.0.0.1:{grpc_port}", hubs
    finally:
        if balancer is not None:
            balancer.terminate()
            balancer.wait(10)
        for hub in hubs.values():
            hub.kill()


def ingest(url: str, key: str, event_id: str) -> int:
    event = {
        "timestamp": time.time_ns(),
        "stack_name": "balanced",
        "event_type": "heartbeat",
        "event_id": event_id,
    }
    answer = httpx.post(f"{url}/v1/events", json=event, headers={"X-API-Key": key}, timeout=10)
    return answer.status_code


def stored(hub: HubProcess) -> set[str]:
    answer = httpx.get(
        f"{hub.url}/api/v1/events?stack=balanced&since=1h",
        headers={"X-API-Key": hub.admin_key},
        timeout=10,
    )
    return {e["event_id"] for e in answer.json()["events"]}


def test_requests_go_round_robin_and_around_a_dead_replica(
    balanced: tuple[str, str, dict[str, HubProcess]],
) -> None:
    url, _, hubs = balanced
    one, two = hubs.values()
    sent = [f"rr-{n}" for n in range(4)]
    assert [ingest(url, one.admin_key, event_id) for event_id in sent] == [200] * 4
    # Each replica has its own embedded store here, so where an event lands shows which
    # replica took it: two each, alternating.
    wait_until(lambda: len(stored(one)) + len(stored(two)) == 4, timeout=10)
    assert len(stored(one)) == 2 and len(stored(two)) == 2
    assert stored(one) | stored(two) == set(sent)
    two.kill()
    after = [f"after-{n}" for n in range(4)]
    assert [ingest(url, one.admin_key, event_id) for event_id in after] == [200] * 4
    wait_until(lambda: set(after) <= stored(one), timeout=10)


def export_span(target: str, key: str, name: str) -> str:
    """Export one span on a new connection; its span id, hex."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "stack.name", "balanced"
    span = resource_spans.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = os.urandom(16), os.urandom(8), name
    span.start_time_unix_nano = time.time_ns()
    span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000
    with grpc.insecure_channel(target) as channel:  # a new connection each time
        channel.unary_unary(TRACES)(
            request.SerializeToString(), metadata=(("x-api-key", key),), timeout=10
        )
    return span.span_id.hex()


def span_ids(hub: HubProcess) -> list[str]:
    answer = httpx.get(
        f"{hub.url}/api/v1/events?stack=balanced&since=1h",
        headers={"X-API-Key": hub.admin_key},
        timeout=10,
    )
    return [e["span_id"] for e in answer.json()["events"]]


def test_otlp_grpc_passes_through_to_a_live_replica(
    balanced: tuple[str, str, dict[str, HubProcess]],
) -> None:
    _, target, hubs = balanced
    one, two = hubs.values()
    sent = sorted(export_span(target, one.admin_key, f"span-{n}") for n in range(4))
    # Each span is stored once, on whichever replica its connection went to.
    wait_until(lambda: sorted(span_ids(one) + span_ids(two)) == sent, timeout=10)
    two.kill()
    after = {export_span(target, one.admin_key, f"after-{n}") for n in range(2)}
    wait_until(lambda: after <= set(span_ids(one)), timeout=10)
