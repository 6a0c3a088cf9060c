"""Zipkin v2 spans decode to the raw events OTLP spans of the same content decode to:
the same SDK spans through the real OTLP encoder and the real Zipkin v2 JSON encoder."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.zipkin.encoder import Encoder
from opentelemetry.exporter.zipkin.json.v2 import JsonV2Encoder
from opentelemetry.exporter.zipkin.node_endpoint import NodeEndpoint
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from stacklens.ingest.limits import DEFAULT_REQUEST_LIMITS, RequestLimitError, RequestLimits
from stacklens.ingest.otlp import decode_traces
from stacklens.ingest.steps import run_steps
from stacklens.ingest.zipkin import ZipkinDecodeError, typed_tag, zipkin_steps

T0 = 1_767_225_600_000_000_000  # whole microseconds: Zipkin carries µs


def sdk_spans() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "chat-api", "stack.name": "zk", "deployment.environment": "test"}
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("agent-lib", "1.2.0")
    with tracer.start_as_current_span("invoke_agent", start_time=T0, end_on_exit=False) as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "sisyphus")
        llm = tracer.start_span("chat claude", kind=SpanKind.CLIENT, start_time=T0 + 1000)
        llm.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-sonnet-4",
                "gen_ai.usage.input_tokens": 1500,
                "gen_ai.usage.output_tokens": 500,
                "gen_ai.conversation.id": "conv-42",
                "user.id": "alice@example.com",
                "gen_ai.input.messages": '[{"role":"user","content":"hi"}]',
                "server.port": 443,
                "retry.ratio": 0.25,
                "cached": False,
                "labels": ["a", "b"],
                "version.text": "007",
            }
        )
        llm.end(end_time=T0 + 251_000_000)
        tool = tracer.start_span("execute_tool bash", start_time=T0 + 300_000_000)
        tool.set_attribute("gen_ai.operation.name", "execute_tool")
        tool.set_attribute("gen_ai.tool.name", "bash")
        tool.record_exception(ValueError("exit status 1"), timestamp=T0 + 301_000_000)
        tool.set_status(StatusCode.ERROR, "exit status 1")
        tool.end(end_time=T0 + 302_000_000)
        server = tracer.start_span("GET /health", kind=SpanKind.SERVER, start_time=T0 + 2000)
        server.set_attribute("http.request.method", "GET")
        server.set_status(StatusCode.OK)
        server.end(end_time=T0 + 5000)
    agent.end(end_time=T0 + 400_000_000)
    return list(memory.get_finished_spans())


def zipkin_body(spans: list[ReadableSpan], encoder: Encoder | None = None) -> bytes:
    encoder = encoder or JsonV2Encoder(max_tag_value_length=10_000)
    local = NodeEndpoint()
    local.service_name = "chat-api"  # as the exporter sets it: the first span's resource
    return encoder.serialize(spans, local).encode()


def decode_zipkin(body: bytes, limits: RequestLimits = DEFAULT_REQUEST_LIMITS) -> Any:
    return run_steps(zipkin_steps(body, namespace_as_stack=True, limits=limits))


def test_a_zipkin_span_decodes_as_the_same_otlp_span_does() -> None:
    spans = sdk_spans()
    over_otlp = decode_traces(encode_spans(spans).SerializeToString(), "application/x-protobuf")
    over_zipkin = decode_zipkin(zipkin_body(spans))
    assert over_zipkin.rejected == over_otlp.rejected == []
    assert len(over_zipkin.events) == 4
    by_id = {e["span_id"]: e for e in over_otlp.events}
    for event in over_zipkin.events:
        assert event == by_id[event["span_id"]]
    call = next(e for e in over_zipkin.events if e["event_type"] == "llm_call")
    assert (call["stack_name"], call["service"], call["session_id"]) == (
        "zk",
        "chat-api",
        "conv-42",
    )
    assert (call["data"]["tokens_in"], call["data"]["tokens_out"]) == (1500, 500)
    assert call["data"]["duration_ms"] == (251_000_000 - 1000) / 1e6
    assert call["attributes"]["server.port"] == 443 and call["attributes"]["cached"] is False
    assert call["attributes"]["labels"] == ["a", "b"]
    assert call["attributes"]["version.text"] == "007"  # not a canonical integer: text
    assert call["attributes"]["otel.scope.name"] == "agent-lib"
    assert call["attributes"]["resource.deployment.environment"] == "test"
    tool = next(e for e in over_zipkin.events if e["event_type"] == "tool_use")
    assert tool["data"]["success"] is False and tool["data"]["error_code"] == "ValueError"
    kinds = {e["message"]: e["attributes"]["span.kind"] for e in over_zipkin.events}
    assert kinds == {
        "invoke_agent": "internal",
        "chat claude": "client",
        "execute_tool bash": "internal",
        "GET /health": "server",
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("false", False),
        ("443", 443),
        ("-7", -7),
        ("0.25", 0.25),
        ('["1","x"]', [1, "x"]),
        ("007", "007"),
        ("1.50", "1.50"),  # would not read back as the same text
        ("9223372036854775808", "9223372036854775808"),  # past int64
        ("True", "True"),
        ("[1, 2]", "[1, 2]"),  # not how the exporter writes arrays
        ("nan", "nan"),
    ],
)
def test_typed_tags_only_when_the_text_reads_back_exactly(text: str, value: Any) -> None:
    assert typed_tag(text) == value
    assert type(typed_tag(text)) is type(value)


def span(**fields: Any) -> dict[str, Any]:
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "id": "eee19b7ec3c1b174",
        "name": "get /api",
        "timestamp": 1_767_225_600_000_000,
        "duration": 1500,
        "localEndpoint": {"serviceName": "web", "ipv4": "10.0.0.7", "port": 8080},
        **fields,
    }


def test_bad_spans_are_rejected_at_their_request_positions() -> None:
    body = [
        span(id="0000000000000001"),
        "not a span",
        span(id="abc"),
        span(id="0000000000000002", traceId="0" * 32),  # all-zero trace id: OTLP's reason
        span(id="0000000000000003", timestamp=None),
        span(id="0000000000000004", kind="SIDEWAYS"),
        span(id="0000000000000005", tags={"a": {"nested": 1}}),
        span(id="0000000000000006", parentId="00f067aa0ba902b7", kind="SERVER"),
        span(id="0000000000000007", kind=[]),  # unhashable: was a TypeError (a 500)
        span(id="0000000000000008", kind={"k": 1}),
    ]
    decoded = decode_zipkin(msgspec.json.encode(body))
    assert decoded.rejected == [
        (1, "a span must be a JSON object"),
        (2, "id must be 16 hex characters"),
        (3, "trace_id must not be all zeros"),
        (4, "span has no timestamp"),
        (5, "kind must be CLIENT, SERVER, PRODUCER or CONSUMER"),
        (6, "tag 'a' must be a string"),
        (8, "kind must be CLIENT, SERVER, PRODUCER or CONSUMER"),
        (9, "kind must be CLIENT, SERVER, PRODUCER or CONSUMER"),
    ]
    first, last = decoded.events
    assert (first["span_id"], last["span_id"]) == ("0000000000000001", "0000000000000006")
    assert last["parent_span_id"] == "00f067aa0ba902b7"
    assert first["timestamp"] == 1_767_225_600_000_000_000 and first["data"]["duration_ms"] == 1.5
    assert first["service"] == "web"
    assert first["attributes"]["network.local.address"] == "10.0.0.7"
    assert first["attributes"]["network.local.port"] == 8080


def test_a_64_bit_trace_id_is_padded_to_128_bits() -> None:
    [event] = decode_zipkin(msgspec.json.encode([span(traceId="463ac35c9f6413ad")])).events
    assert event["trace_id"] == "0000000000000000463ac35c9f6413ad"


def test_plain_annotations_and_remote_endpoints() -> None:
    body = [
        span(
            kind="CLIENT",
            remoteEndpoint={"serviceName": "db", "ipv6": "::1", "port": 5432},
            annotations=[{"timestamp": 1_767_225_600_000_100, "value": "ws"}],
            tags={"error": "connection reset", "http.method": "GET"},
        )
    ]
    [event] = decode_zipkin(msgspec.json.encode(body)).events
    assert event["attributes"]["peer.service"] == "db"
    assert event["attributes"]["network.peer.address"] == "::1"
    assert event["attributes"]["network.peer.port"] == 5432
    assert event["data"]["success"] is False and event["data"]["error_code"] == "connection reset"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b'{"traceId": "x"}', "a Zipkin v2 body is a JSON list of spans"),
        (b'"spans"', "a Zipkin v2 body is a JSON list of spans"),
    ],
)
def test_a_body_that_is_not_a_list_of_spans_is_refused_whole(body: bytes, reason: str) -> None:
    with pytest.raises(ZipkinDecodeError, match=reason):
        decode_zipkin(body)


def test_per_request_bounds() -> None:
    limits = RequestLimits(max_items=2, max_attributes=3)
    three = msgspec.json.encode([span(id=f"{i:016x}") for i in range(1, 4)])
    with pytest.raises(RequestLimitError, match="request has 3 spans") as many:
        decode_zipkin(three, limits)
    assert many.value.status == 413
    tagged = msgspec.json.encode([span(tags={str(i): "v" for i in range(4)})])
    with pytest.raises(RequestLimitError, match="span 0 has 4 attributes") as wide:
        decode_zipkin(tagged, limits)
    assert wide.value.status == 400


def test_nested_annotation_values_do_not_nest_attributes() -> None:
    deep: Any = "x"
    for _ in range(200):
        deep = [deep]
    value = json.dumps({"gen_ai.content.prompt": {"gen_ai.prompt": "hello", "deep": deep}})
    [event] = decode_zipkin(
        msgspec.json.encode([span(annotations=[{"timestamp": 1, "value": value}])])
    ).events
    assert event["data"]["content"] == "hello"
