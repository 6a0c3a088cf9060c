"""Response bodies, and: decoders raise only OtlpDecodeError on arbitrary input."""

from __future__ import annotations

import contextlib
import json

from google.rpc.status_pb2 import Status
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from stacklens.ingest.otlp import (
    OtlpDecodeError,
    decode_logs,
    decode_metrics,
    decode_traces,
    export_response,
    response_media_type,
    status_body,
)

PB = "application/x-protobuf"


def test_export_response_protobuf_partial_success() -> None:
    body = export_response("traces", 2, "2 spans rejected", PB)
    response = ExportTraceServiceResponse.FromString(body)
    assert response.HasField("partial_success")
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "2 spans rejected"
    full = ExportLogsServiceResponse.FromString(export_response("logs", 0, "", PB))
    assert not full.HasField("partial_success")


def test_export_response_json() -> None:
    body = export_response("metrics", 3, "bad points", "application/json")
    assert json.loads(body) == {
        "partialSuccess": {"rejectedDataPoints": "3", "errorMessage": "bad points"}
    }
    assert json.loads(export_response("logs", 0, "", "application/json")) == {}


def test_status_body() -> None:
    status = Status.FromString(status_body(3, "invalid body", PB))
    assert (status.code, status.message) == (3, "invalid body")
    assert json.loads(status_body(8, "slow down", "application/json")) == {
        "code": 8,
        "message": "slow down",
    }
    assert response_media_type("application/json; charset=utf-8") == "application/json"
    assert response_media_type("text/plain") == PB


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_raise_only_decode_errors(body: bytes) -> None:
    for decode in (decode_traces, decode_logs, decode_metrics):
        for content_type in (PB, "application/json"):
            with contextlib.suppress(OtlpDecodeError):
                decode(body, content_type)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES)
def test_arbitrary_json_raises_only_decode_errors(document: object) -> None:
    wrapped = {"resourceSpans": [{"scopeSpans": [{"spans": [document]}]}]}
    for candidate in (document, wrapped):
        with contextlib.suppress(OtlpDecodeError):
            decode_traces(json.dumps(candidate).encode(), "application/json")


def _valid_body() -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(
            trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="s", start_time_unix_nano=1, kind=2
        )
    )
    for key in ("gen_ai.request.model", "gen_ai.usage.input_tokens", "llm.input_messages.0.x"):
        span.attributes.add(key=key).value.string_value = "v"
    nested = span.attributes.add(key="n").value.kvlist_value.values.add(key="k")
    nested.value.array_value.values.add().bytes_value = b"\x00"
    return request.SerializeToString()


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutated_protobuf_raises_only_decode_errors(edits: list[tuple[int, int]]) -> None:
    body = bytearray(_valid_body())
    for position, value in edits:
        body[position % len(body)] = value
    for decode in (decode_traces, decode_logs, decode_metrics):
        with contextlib.suppress(OtlpDecodeError):
            decode(bytes(body), PB)
