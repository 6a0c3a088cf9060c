"""decode_traces against bodies made by the real OpenTelemetry SDK + OTLP encoder."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from stacklens.ingest.otlp import OtlpDecodeError, UnsupportedMediaType, decode_traces
from stacklens.schema import EventError, normalize

PB = "application/x-protobuf"


class _Memory(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def exported(
    make: Callable[[Tracer], None], resource: dict[str, Any] | None = None
) -> tuple[bytes, list[ReadableSpan]]:
    """Run ``make`` with a real tracer; return the exact OTLP/HTTP protobuf body."""
    memory = _Memory()
    provider = TracerProvider(
        resource=Resource.create(resource or {"service.name": "chat-api", "stack.name": "Demo"})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    make(provider.get_tracer("test.scope", "1.2.3"))
    provider.shutdown()
    return encode_spans(memory.spans).SerializeToString(), memory.spans


def check_normalizes(event: dict[str, Any]) -> dict[str, Any]:
    return normalize(event, default_stack="s", now_ns=time.time_ns(), new_id=lambda: "x")


def test_genai_chat_span_maps_every_field() -> None:
    def make(tracer: Tracer) -> None:
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.usage.input_tokens": 1200,
                    "gen_ai.usage.output_tokens": 345,
                    "gen_ai.usage.cache_read.input_tokens": 1000,
                    "gen_ai.usage.cache_creation.input_tokens": 50,
                    "gen_ai.usage.reasoning.output_tokens": 64,
                    "gen_ai.conversation.id": "conv-1",
                    "gen_ai.agent.name": "planner",
                    "user.id": "alice",
                    "gen_ai.usage.cost": 0.0125,
                    "gen_ai.request.temperature": 0.2,
                    "gen_ai.response.finish_reasons": ["stop"],
                    "gen_ai.input.messages": '[{"role":"user","parts":[{"content":"hi"}]}]',
                    "gen_ai.output.messages": '[{"role":"assistant","parts":[{"content":"yo"}]}]',
                }
            )

    body, spans = exported(make)
    result = decode_traces(body, PB)
    assert result.rejected == []
    [event] = result.events
    span = spans[0]
    ctx = span.get_span_context()
    assert ctx is not None
    assert event["trace_id"] == f"{ctx.trace_id:032x}"
    assert event["span_id"] == f"{ctx.span_id:016x}"
    assert event["event_id"] == f"{ctx.trace_id:032x}{ctx.span_id:016x}"
    assert "parent_span_id" not in event
    assert event["timestamp"] == span.start_time
    assert span.end_time is not None
    assert span.start_time is not None
    assert event["data"]["duration_ms"] == pytest.approx((span.end_time - span.start_time) / 1e6)
    assert event["event_type"] == "llm_call"
    assert event["message"] == "chat gpt-4o"
    assert event["stack_name"] == "demo"  # lowercased
    assert event["service"] == "chat-api"
    assert event["session_id"] == "conv-1"
    assert event["user_id"] == "alice"
    data = event["data"]
    assert data["provider"] == "openai"
    assert data["model"] == "gpt-4o-2024-08-06"  # response model beats request model
    assert (data["tokens_in"], data["tokens_out"]) == (1200, 345)
    assert (data["tokens_cache_read"], data["tokens_cache_write"]) == (1000, 50)
    assert data["tokens_reasoning"] == 64
    assert data["cost_usd"] == 0.0125
    assert data["agent"] == "planner"
    assert data["success"] is True
    assert '"hi"' in data["content"]
    assert '"yo"' in data["content"]
    attrs = event["attributes"]
    # Content never stays a plain attribute; the losing request model is kept.
    assert "gen_ai.input.messages" not in attrs
    assert "gen_ai.output.messages" not in attrs
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["otel.scope.name"] == "test.scope"
    assert attrs["resource.telemetry.sdk.language"] == "python"
    assert attrs["span.kind"] == "client"
    canonical = check_normalizes(event)
    assert canonical["stack_name"] == "demo"


def test_old_semconv_names_and_error_status() -> None:
    def make(tracer: Tracer) -> None:
        with tracer.start_as_current_span("completion") as span:
            span.set_attributes(
                {
                    "gen_ai.system": "anthropic",
                    "gen_ai.request.model": "claude-3-5-sonnet",
                    "gen_ai.usage.prompt_tokens": 10,
                    "gen_ai.usage.completion_tokens": 20,
                    "gen_ai.usage.cache_read_input_tokens": 3,
                    "gen_ai.usage.cache_creation_input_tokens": 4,
                    "gen_ai.prompt.0.role": "user",
                    "gen_ai.prompt.0.content": "secret prompt",
                    "gen_ai.completion.0.content": "the answer",
                    "error.type": "RateLimitError",
                }
            )
            span.set_status(Status(StatusCode.ERROR, "429 from provider"))

    body, _ = exported(make)
    [event] = decode_traces(body, PB).events
    data = event["data"]
    assert event["event_type"] == "llm_call"  # model/usage imply an LLM call
    assert (data["provider"], data["model"]) == ("anthropic", "claude-3-5-sonnet")
    assert (data["tokens_in"], data["tokens_out"]) == (10, 20)
    assert (data["tokens_cache_read"], data["tokens_cache_write"]) == (3, 4)
    assert data["success"] is False
    assert data["error_code"] == "RateLimitError"
    assert data["content"] == "secret prompt\nthe answer"
    assert not any(key.startswith("gen_ai.prompt") for key in event["attributes"])
    check_normalizes(event)


def test_openinference_llm_tool_and_agent_spans() -> None:
    def make(tracer: Tracer) -> None:
        with tracer.start_as_current_span("agent run") as agent:
            agent.set_attributes({"openinference.span.kind": "AGENT", "agent.name": "helper"})
            with tracer.start_as_current_span("llm") as llm:
                llm.set_attributes(
                    {
                        "openinference.span.kind": "LLM",
                        "llm.model_name": "gpt-4o-mini",
                        "llm.provider": "openai",
                        "llm.token_count.prompt": 11,
                        "llm.token_count.completion": 22,
                        "llm.token_count.prompt_details.cache_read": 5,
                        "llm.token_count.completion_details.reasoning": 7,
                        "llm.cost.total": 0.5,
                        "llm.input_messages.0.message.role": "user",
                        "llm.input_messages.0.message.content": "what is 2+2",
                        "llm.output_messages.0.message.content": "4",
                        "session.id": "sess-9",
                        "input.value": "raw input",
                    }
                )
            with tracer.start_as_current_span("tool") as tool:
                tool.set_attributes({"openinference.span.kind": "TOOL", "tool.name": "calc"})

    body, _ = exported(make)
    events = {e["message"]: e for e in decode_traces(body, PB).events}
    agent, llm, tool = events["agent run"], events["llm"], events["tool"]
    assert (agent["event_type"], agent["data"]["agent"]) == ("span", "helper")
    assert llm["event_type"] == "llm_call"
    assert llm["parent_span_id"] == agent["span_id"]
    assert llm["trace_id"] == agent["trace_id"]
    d = llm["data"]
    assert (d["model"], d["provider"], d["tokens_in"], d["tokens_out"]) == (
        "gpt-4o-mini",
        "openai",
        11,
        22,
    )
    assert (d["tokens_cache_read"], d["tokens_reasoning"], d["cost_usd"]) == (5, 7, 0.5)
    assert llm["session_id"] == "sess-9"
    assert d["content"] == "what is 2+2\n4\nraw input"
    assert not any(k.startswith("llm.input_messages") for k in llm["attributes"])
    assert (tool["event_type"], tool["data"]["tool"]) == ("tool_use", "calc")
    for event in events.values():
        check_normalizes(event)


def test_genai_tool_span_and_http_server_span() -> None:
    def make(tracer: Tracer) -> None:
        with tracer.start_as_current_span("POST /v1/chat", kind=SpanKind.SERVER) as http:
            http.set_attributes(
                {
                    "http.request.method": "POST",
                    "http.route": "/v1/chat",
                    "http.response.status_code": 200,
                    "url.full": "https://api.example.com/v1/chat?token=abc",
                    "enduser.id": "bob",
                }
            )
            with tracer.start_as_current_span("execute_tool search") as tool:
                tool.set_attributes(
                    {
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": "web_search",
                        "gen_ai.tool.call.arguments": '{"q": "samosa"}',
                        "gen_ai.tool.call.result": "10 results",
                    }
                )
            with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as client:
                client.set_attribute("http.method", "GET")

    body, _ = exported(make)
    events = {e["message"]: e for e in decode_traces(body, PB).events}
    http = events["POST /v1/chat"]
    assert http["event_type"] == "http_request"
    assert (http["data"]["method"], http["data"]["path"], http["data"]["status_code"]) == (
        "POST",
        "/v1/chat",
        200,
    )
    assert http["data"]["url"] == "https://api.example.com/v1/chat?token=abc"
    assert http["user_id"] == "bob"
    tool = events["execute_tool search"]
    assert (tool["event_type"], tool["data"]["tool"]) == ("tool_use", "web_search")
    assert tool["data"]["args"] == '{"q": "samosa"}'
    assert tool["data"]["content"] == "10 results"
    assert events["GET"]["event_type"] == "span"  # a client HTTP span is not a request row
    for event in events.values():
        check_normalizes(event)


def test_span_event_content_and_exception() -> None:
    def make(tracer: Tracer) -> None:
        with tracer.start_as_current_span("chat") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "old style prompt"})
            span.record_exception(ValueError("bad"))
            span.set_status(Status(StatusCode.ERROR))

    body, _ = exported(make)
    [event] = decode_traces(body, PB).events
    assert event["data"]["content"] == "old style prompt"
    assert event["data"]["error_code"] == "ValueError"
    assert event["attributes"]["exception.message"] == "bad"


def test_stack_from_namespace_and_invalid_stack_left_to_the_key() -> None:
    def make(tracer: Tracer) -> None:
        with tracer.start_as_current_span("x"):
            pass

    body, _ = exported(make, {"service.name": "svc", "service.namespace": "Team-A"})
    [event] = decode_traces(body, PB).events
    assert event["stack_name"] == "team-a"
    body, _ = exported(make, {"service.name": "svc", "service.namespace": "Not A Stack!"})
    [event] = decode_traces(body, PB).events
    assert "stack_name" not in event
    assert event["attributes"]["resource.service.namespace"] == "Not A Stack!"
    assert check_normalizes(event)["stack_name"] == "s"  # the key's stack decides


def _span_dicts(body: bytes) -> dict[str, Any]:
    """The OTLP JSON form of a protobuf body (hex ids, enums as integers)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest.FromString(body)
    document: dict[str, Any] = json_format.MessageToDict(request, use_integers_for_enums=True)
    for rs in document["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
                span["someFutureField"] = {"x": 1}  # unknown fields are ignored
    return document


def test_otlp_json_matches_protobuf() -> None:
    def make(tracer: Tracer) -> None:
        with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
            parent.set_attributes({"http.request.method": "GET", "gen_ai.usage.input_tokens": 3})
            with tracer.start_as_current_span("child") as child:
                child.set_attribute("bytes.attr", "x")

    body, _ = exported(make)
    document = _span_dicts(body)
    from_json = decode_traces(json.dumps(document).encode(), "application/json; charset=utf-8")
    assert from_json == decode_traces(body, PB)
    # Enum names are accepted too, and int64 as numbers.
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["kind"] = "SPAN_KIND_SERVER"
    span["startTimeUnixNano"] = int(span["startTimeUnixNano"])
    assert decode_traces(json.dumps(document).encode(), "application/json").events


def test_handwritten_otlp_json() -> None:
    document = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "svc"}},
                        {"key": "stack.name", "value": {"stringValue": "prod-chat"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "EEE19B7EC3C1B174",
                                "parentSpanId": "EEE19B7EC3C1B173",
                                "name": "chat",
                                "kind": 3,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": 1544712661000000000,
                                "attributes": [
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
                                    {
                                        "key": "gen_ai.usage.input_tokens",
                                        "value": {"intValue": "7"},
                                    },
                                    {
                                        "key": "meta",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": "a", "value": {"intValue": 1}},
                                                    {"key": "b", "value": {"bytesValue": "AQI="}},
                                                ]
                                            }
                                        },
                                    },
                                ],
                                "status": {"code": 2, "message": "boom"},
                                "unknownThing": True,
                            }
                        ],
                    }
                ],
            }
        ]
    }
    [event] = decode_traces(json.dumps(document).encode(), "application/json").events
    assert event["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert event["parent_span_id"] == "eee19b7ec3c1b173"
    assert event["stack_name"] == "prod-chat"
    assert event["data"]["duration_ms"] == 1000.0
    assert event["data"]["tokens_in"] == 7
    assert event["data"]["error_code"] == "boom"
    assert event["attributes"]["meta.a"] == 1
    assert event["attributes"]["meta.b"] == "0102"  # bytes as hex
    assert event["attributes"]["span.kind"] == "client"
    check_normalizes(event)


def _three_spans_body() -> tuple[bytes, Any]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    def make(tracer: Tracer) -> None:
        for name in ("a", "b", "c"):
            with tracer.start_as_current_span(name):
                pass

    body, _ = exported(make)
    return body, ExportTraceServiceRequest.FromString(body)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("trace_id", b"\x01" * 8, "trace_id must be 16 bytes"),
        ("span_id", b"\x01" * 16, "span_id must be 8 bytes"),
        ("trace_id", b"\x00" * 16, "trace_id must not be all zeros"),
        ("span_id", b"", "span has no span_id"),
        ("parent_span_id", b"\x01" * 3, "parent_span_id must be 8 bytes"),
        ("start_time_unix_nano", 0, "span has no start_time_unix_nano"),
    ],
)
def test_bad_span_is_rejected_alone(field: str, value: Any, reason: str) -> None:
    _, request = _three_spans_body()
    spans = request.resource_spans[0].scope_spans[0].spans
    setattr(spans[1], field, value)
    result = decode_traces(request.SerializeToString(), PB)
    assert [e["message"] for e in result.events] == ["a", "c"]
    assert len(result.rejected) == 1
    index, message = result.rejected[0]
    assert index == 1
    assert message.startswith(reason)


def test_bad_hex_id_in_json_rejects_only_that_span() -> None:
    body, _ = _three_spans_body()
    document = _span_dicts(body)
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[0]["traceId"] = "not-hex-at-all"
    spans[2]["spanId"] = "abcd"
    result = decode_traces(json.dumps(document).encode(), "application/json")
    assert [e["message"] for e in result.events] == ["b"]
    assert [i for i, _ in result.rejected] == [0, 2]


def test_flattened_index_across_resources() -> None:
    _, request = _three_spans_body()
    request.resource_spans.append(request.resource_spans[0])  # a second resource group
    request.resource_spans[1].scope_spans[0].spans[2].trace_id = b"short"
    result = decode_traces(request.SerializeToString(), PB)
    assert [i for i, _ in result.rejected] == [5]
    assert len(result.events) == 5


def test_huge_attribute_passes_decode_and_normalize_rejects_it() -> None:
    def make(tracer: Tracer) -> None:
        with tracer.start_as_current_span("small") as span:
            span.set_attribute("note", "ok")
        with tracer.start_as_current_span("big") as span:
            span.set_attribute("note", "x" * 100_000)

    body, _ = exported(make)
    events = {e["message"]: e for e in decode_traces(body, PB).events}
    assert len(events["big"]["attributes"]["note"]) == 100_000
    check_normalizes(events["small"])
    with pytest.raises(EventError, match="longer than"):
        check_normalizes(events["big"])


def test_unparsable_bodies() -> None:
    body, _ = _three_spans_body()
    with pytest.raises(OtlpDecodeError):
        decode_traces(body[: len(body) // 2], PB)
    with pytest.raises(OtlpDecodeError):
        decode_traces(b"\xff\xfe garbage \x00", PB)
    with pytest.raises(OtlpDecodeError):
        decode_traces(b"[1, 2]", "application/json")
    with pytest.raises(OtlpDecodeError):
        decode_traces(b'{"resourceSpans": 5}', "application/json")
    with pytest.raises(OtlpDecodeError):
        decode_traces(b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "\xff"}]}]}]}',
                      "application/json")  # fmt: skip
    with pytest.raises(UnsupportedMediaType):
        decode_traces(body, "text/plain")


def test_invalid_utf8_in_protobuf_string_is_a_bad_request() -> None:
    _, request = _three_spans_body()
    request.resource_spans[0].scope_spans[0].spans[0].name = "MARKER"
    raw = request.SerializeToString().replace(b"MARKER", b"MARK\xff\xfe")
    with pytest.raises(OtlpDecodeError):
        decode_traces(raw, PB)


def test_empty_request_decodes_to_nothing() -> None:
    assert decode_traces(b"", PB) == ([], [])
    assert decode_traces(b"{}", "application/json") == ([], [])
