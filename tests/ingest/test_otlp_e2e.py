"""Real OpenTelemetry SDK exporters (OTLP/HTTP protobuf) and OTLP JSON against a real
hub on loopback; stored fields compared with what was sent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

from stacklens.testing import HubProcess, wait_until


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with HubProcess(tmp_path_factory.mktemp("otlp") / "data") as running:
        yield running


def resource(stack: str) -> Resource:
    return Resource.create(
        {"service.name": "chat-api", "stack.name": stack, "deployment.environment": "test"}
    )


def events_of(hub: HubProcess, stack: str, count: int, **params: Any) -> list[dict[str, Any]]:
    with hub.client() as client:

        def fetch() -> list[dict[str, Any]] | None:
            found = client.get(
                "/api/v1/events", params={"stack": stack, "limit": 1000, **params}
            ).json()["events"]
            return found if len(found) >= count else None

        return wait_until(fetch, timeout=15)


def test_sdk_spans_with_genai_attributes_are_stored_field_by_field(hub: HubProcess) -> None:
    provider = TracerProvider(resource=resource("otel-stack"))
    exporter = OTLPSpanExporter(
        endpoint=f"{hub.url}/v1/traces", headers={"X-API-Key": hub.admin_key}
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent sisyphus") as agent_span:
        agent_span.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent_span.set_attribute("gen_ai.agent.name", "sisyphus")
        with tracer.start_as_current_span("chat claude") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.provider.name", "anthropic")
            llm.set_attribute("gen_ai.request.model", "claude-sonnet-4")
            llm.set_attribute("gen_ai.response.model", "claude-sonnet-4-20250514")
            llm.set_attribute("gen_ai.usage.input_tokens", 1500)
            llm.set_attribute("gen_ai.usage.output_tokens", 500)
            llm.set_attribute("gen_ai.usage.cache_read.input_tokens", 300)
            llm.set_attribute("gen_ai.agent.name", "sisyphus")
            llm.set_attribute("gen_ai.conversation.id", "conv-42")
            llm.set_attribute("user.id", "alice@example.com")
            llm.set_attribute(
                "gen_ai.input.messages", '[{"role":"user","content":"refactor the parser"}]'
            )
            time.sleep(0.01)
        with tracer.start_as_current_span("execute_tool bash") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "bash")
            tool.set_status(StatusCode.ERROR, "exit status 1")
    provider.shutdown()
    llm_ctx = llm.get_span_context()

    stored = {e["event_type"]: e for e in events_of(hub, "otel-stack", 3)}
    assert set(stored) == {"span", "llm_call", "tool_use"}
    call = stored["llm_call"]
    assert (
        call["trace_id"] == f"{llm_ctx.trace_id:032x}"
        and call["span_id"] == f"{llm_ctx.span_id:016x}"
    )
    assert call["parent_span_id"] == stored["span"]["span_id"]
    assert (call["provider"], call["model"], call["agent"]) == (
        "anthropic",
        "claude-sonnet-4-20250514",
        "sisyphus",
    )
    assert (call["tokens_in"], call["tokens_out"], call["tokens_cache_read"]) == (1500, 500, 300)
    assert call["session_id"] == "conv-42" and call["service"] == "chat-api"
    assert call["duration_ms"] >= 10 and call["success"] is True
    assert call["user_id"].startswith("u_") and "alice" not in str(call)  # pseudonymized
    assert "content_hash" in call and "refactor the parser" not in str(call)  # hashed, never stored
    assert stored["tool_use"]["tool"] == "bash" and stored["tool_use"]["success"] is False
    assert stored["span"]["agent"] == "sisyphus"


def test_sdk_logs_keep_severity_and_trace_ids(hub: HubProcess) -> None:
    provider = LoggerProvider(resource=resource("otel-logs"))
    exporter = OTLPLogExporter(
        endpoint=f"{hub.url}/v1/logs", headers={"Authorization": f"Bearer {hub.admin_key}"}
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("test")
    span_context = SpanContext(
        0x1234567890ABCDEF1234567890ABCDEF,
        0x1122334455667788,
        is_remote=False,
        trace_flags=TraceFlags(1),
    )
    logger.emit(
        timestamp=time.time_ns(),
        body="upstream timed out after 30s",
        severity_text="ERROR",
        severity_number=SeverityNumber.ERROR,
        context=set_span_in_context(NonRecordingSpan(span_context)),
        attributes={"http.route": "/v1/chat"},
    )
    provider.shutdown()
    [log] = events_of(hub, "otel-logs", 1)
    assert log["event_type"] == "log" and log["level"] == "error"
    assert log["message"] == "upstream timed out after 30s"
    assert (
        log["trace_id"] == "1234567890abcdef1234567890abcdef"
        and log["span_id"] == "1122334455667788"
    )
    assert log["path"] == "/v1/chat"  # http.route maps onto the path column


def test_sdk_metrics_are_stored_and_queryable_by_name(hub: HubProcess) -> None:
    exporter = OTLPMetricExporter(
        endpoint=f"{hub.url}/v1/metrics", headers={"X-API-Key": hub.admin_key}
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(resource=resource("otel-metrics"), metric_readers=[reader])
    meter = provider.get_meter("gpu")
    meter.create_gauge("gpu_utilization_percent").set(87.5, {"gpu_id": "0"})
    histogram = meter.create_histogram("inference_duration_seconds", unit="s")
    for value in (0.2, 0.4, 3.0):
        histogram.record(value, {"model": "llama-3.3-8b"})
    provider.shutdown()  # flushes one export
    with hub.client() as client:

        def points(name: str) -> list[dict[str, Any]] | None:
            found = client.get(f"/api/v1/metrics/{name}", params={"stack": "otel-metrics"}).json()[
                "points"
            ]
            return found or None

        [gauge] = wait_until(lambda: points("gpu_utilization_percent"), timeout=15)
        assert (
            gauge["value"] == 87.5
            and gauge["kind"] == "gauge"
            and gauge["attributes"] == {"gpu_id": "0"}
        )
        [hist] = wait_until(lambda: points("inference_duration_seconds"), timeout=15)
        assert (
            hist["kind"] == "histogram"
            and hist["count"] == 3
            and hist["value"] == pytest.approx(3.6)
        )
        assert sum(hist["bucket_counts"]) == 3 and hist["unit"] == "s"
        names = {
            m["name"]
            for m in client.get("/api/v1/metrics", params={"stack": "otel-metrics"}).json()[
                "metrics"
            ]
        }
        assert names == {"gpu_utilization_percent", "inference_duration_seconds"}


def test_otlp_json_encoding_with_hex_ids_and_partial_success(hub: HubProcess) -> None:
    now = time.time_ns()
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat gpt-4o-mini",
        "kind": 3,
        "startTimeUnixNano": str(now),
        "endTimeUnixNano": str(now + 250_000_000),
        "attributes": [
            {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
            {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "42"}},
            {"key": "gen_ai.usage.completion_tokens", "value": {"intValue": 7}},
        ],
        "status": {"code": 1},
        "someFutureField": {"ignored": True},
    }
    bad = {**span, "spanId": "abcd", "name": "short id"}  # 2 bytes: wrong length
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "stack.name", "value": {"stringValue": "json-stack"}}]
                },
                "scopeSpans": [{"scope": {"name": "t"}, "spans": [span, bad]}],
            }
        ]
    }
    response = httpx.post(f"{hub.url}/v1/traces", json=body, headers={"X-API-Key": hub.admin_key})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "item 1" in partial["errorMessage"]
    [event] = events_of(hub, "json-stack", 1)
    assert (event["provider"], event["model"], event["tokens_in"], event["tokens_out"]) == (
        "openai",
        "gpt-4o-mini",
        42,
        7,
    )
    assert event["duration_ms"] == 250.0


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"\x0a\x05\x0a\x03", "application/x-protobuf", 400),  # truncated protobuf
        (b"garbage", "application/x-protobuf", 400),
        (b"{}", "text/plain", 415),
        (b"{not json", "application/json", 400),
    ],
)
def test_bad_otlp_bodies_get_a_status_body(
    hub: HubProcess, body: bytes, content_type: str, status: int
) -> None:
    response = httpx.post(
        f"{hub.url}/v1/traces",
        content=body,
        headers={"X-API-Key": hub.admin_key, "Content-Type": content_type},
    )
    assert response.status_code == status
    assert response.content  # a google.rpc.Status, never an empty or HTML page


def test_otlp_needs_a_key(hub: HubProcess) -> None:
    response = httpx.post(
        f"{hub.url}/v1/traces", content=b"", headers={"Content-Type": "application/x-protobuf"}
    )
    assert response.status_code == 401
