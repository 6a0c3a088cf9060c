"""Ingest through worker processes answers exactly as in-process ingest, for every
protocol: native, OTLP traces, logs and metrics, and Loki all decode and prepare there."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from stacklens.ingest import loki_http, otlp
from stacklens.ingest.pipeline import IngestPipeline
from stacklens.privacy import Redactor
from stacklens.testing import HubProcess, in_process_hub, wait_until
from stacklens.testing.otlp import json_span, traces_body
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


def _in_the_hub_process(*_: object, **__: object) -> Any:
    raise AssertionError("ingest work ran in the hub process, not in a worker")


def _attribute(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def otlp_logs_body(now: int, stack: str) -> bytes:
    record = {
        "timeUnixNano": str(now),
        "severityText": "ERROR",
        "body": {"stringValue": f"clone failed with {GITHUB_PAT_CLASSIC}"},
    }
    resource = {"attributes": [_attribute("stack.name", stack)]}
    return msgspec.json.encode(
        {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [record]}]}]}
    )


def otlp_metrics_body(now: int, stack: str) -> bytes:
    point = {
        "timeUnixNano": str(now),
        "asDouble": 3.0,
        "attributes": [_attribute("password", "hunter2-secret-value")],
    }
    metric = {"name": "queue_depth", "gauge": {"dataPoints": [point]}}
    resource = {"attributes": [_attribute("stack.name", stack)]}
    return msgspec.json.encode(
        {"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": [metric]}]}]}
    )


def test_otlp_and_loki_decode_and_prepare_in_the_worker_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time_ns()
    with in_process_hub(tmp_path / "data", ingest_workers=1) as (hub, client):
        # Every decoder and both pipeline paths fail if they run in this (the hub's)
        # process; the worker was spawned with its own, unpatched imports.
        for name in ("trace_steps", "log_steps", "metric_steps"):
            monkeypatch.setattr(otlp, name, _in_the_hub_process)
        monkeypatch.setattr(loki_http, "push_steps", _in_the_hub_process)
        for name in ("prepare_steps", "prepare_points_steps"):
            monkeypatch.setattr(IngestPipeline, name, _in_the_hub_process, raising=False)
        monkeypatch.setattr(Redactor, "redact_value", _in_the_hub_process)

        json_type = {"Content-Type": "application/json"}
        traces = client.post(
            "/v1/traces", content=traces_body([json_span(0, now)], "pool-otlp"), headers=json_type
        )
        logs = client.post("/v1/logs", content=otlp_logs_body(now, "pool-otlp"), headers=json_type)
        metrics = client.post(
            "/v1/metrics", content=otlp_metrics_body(now, "pool-otlp"), headers=json_type
        )
        loki = client.post(
            "/loki/api/v1/push",
            json={"streams": [{"stream": {"level": "info"}, "values": [[str(now), "tick"]]}]},
            headers={"X-Scope-OrgID": "pool-loki"},
        )
        assert [r.status_code for r in (traces, logs, metrics, loki)] == [200, 200, 200, 204]

        hub.flush()
        events = client.get("/api/v1/events", params={"stack": "pool-otlp"}).json()["events"]
        assert sorted(e["event_type"] for e in events) == ["llm_call", "log"]
        [log] = [e for e in events if e["event_type"] == "log"]
        assert GITHUB_PAT_CLASSIC not in log["message"] and "[REDACTED:" in log["message"]
        [point] = client.get("/api/v1/metrics/queue_depth").json()["points"]
        assert "hunter2-secret-value" not in msgspec.json.encode(point).decode()
        [line] = client.get("/api/v1/events", params={"stack": "pool-loki"}).json()["events"]
        assert line["message"] == "tick"
        exposition = client.get("/metrics").text
        assert 'stacklens_redactions_total{rule="github"}' in exposition
        for protocol in ("otlp_traces", "otlp_logs", "otlp_metrics", "loki"):
            assert f'stacklens_ingest_events_accepted_total{{protocol="{protocol}"}} 1.0' in (
                exposition
            )
        assert hub.stacks.get("pool-loki") is not None


def test_otlp_grpc_and_zipkin_decode_and_prepare_in_the_worker_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from stacklens.ingest import zipkin_http
    from stacklens.testing import ADMIN_KEY, free_port

    now = time.time_ns()
    port = free_port()
    with in_process_hub(tmp_path / "data", ingest_workers=1, otlp_grpc_port=port) as (
        hub,
        client,
    ):
        monkeypatch.setattr(otlp, "trace_steps", _in_the_hub_process)
        monkeypatch.setattr(zipkin_http, "zipkin_steps", _in_the_hub_process)
        monkeypatch.setattr(IngestPipeline, "prepare_steps", _in_the_hub_process, raising=False)
        monkeypatch.setattr(Redactor, "redact_value", _in_the_hub_process)

        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.add(key="stack.name").value.string_value = "pool-rpc"
        span = resource_spans.scope_spans.add().spans.add(
            name="chat", start_time_unix_nano=now, end_time_unix_nano=now + 10**6
        )
        span.trace_id, span.span_id = bytes([3] * 16), bytes([4] * 8)
        span.attributes.add(key="gen_ai.request.model").value.string_value = "gpt-4o"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            export = channel.unary_unary(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
            )
            export(request.SerializeToString(), metadata=(("x-api-key", ADMIN_KEY),), timeout=30)
        zipkin = client.post(
            "/api/v2/spans",
            json=[
                {
                    "traceId": "5" * 32,
                    "id": "6" * 16,
                    "name": "get /",
                    "timestamp": now // 1000,
                    "tags": {"stack.name": "pool-rpc", "token": GITHUB_PAT_CLASSIC},
                }
            ],
        )
        assert zipkin.status_code == 202

        hub.flush()
        events = client.get("/api/v1/events", params={"stack": "pool-rpc"}).json()["events"]
        by_type = {e["event_type"]: e for e in events}
        assert set(by_type) == {"llm_call", "span"} and by_type["llm_call"]["model"] == "gpt-4o"
        assert GITHUB_PAT_CLASSIC not in msgspec.json.encode(by_type["span"]).decode()
        exposition = client.get("/metrics").text
        for protocol in ("otlp_grpc_traces", "zipkin"):
            assert f'stacklens_ingest_events_accepted_total{{protocol="{protocol}"}} 1.0' in (
                exposition
            )
