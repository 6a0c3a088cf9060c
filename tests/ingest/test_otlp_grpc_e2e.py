"""OTLP/gRPC against a real hub process (``stacklens serve``, its gRPC port): the real
OpenTelemetry gRPC exporters for traces, logs and metrics, fields read back through the
hub's API; and a raw gRPC client for partial success and every status code."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

from stacklens.metadata import KeyRing, MetadataDB
from stacklens.testing import HubProcess, wait_until

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with HubProcess(tmp_path_factory.mktemp("grpc") / "data") as running:
        yield running


def resource(stack: str) -> Resource:
    return Resource.create(
        {"service.name": "chat-api", "stack.name": stack, "deployment.environment": "test"}
    )


def events_of(hub: HubProcess, stack: str, count: int) -> list[dict[str, Any]]:
    with hub.client() as client:

        def fetch() -> list[dict[str, Any]] | None:
            found = client.get("/api/v1/events", params={"stack": stack, "limit": 1000}).json()[
                "events"
            ]
            return found if len(found) >= count else None

        return wait_until(fetch, timeout=15)


def new_key(hub: HubProcess, role: str, stack: str | None = None) -> str:
    db = MetadataDB.in_data_dir(hub.data_dir)
    try:
        return KeyRing(db).create(role, stack=stack)[1]
    finally:
        db.close()


def raw_export(
    hub: HubProcess, body: bytes, metadata: tuple[tuple[str, str], ...]
) -> ExportTraceServiceResponse:
    with grpc.insecure_channel(hub.grpc_target) as channel:
        call = channel.unary_unary(TRACES)
        answer = call(body, metadata=metadata, timeout=10)
    return ExportTraceServiceResponse.FromString(answer)


def refused(hub: HubProcess, body: bytes, metadata: tuple[tuple[str, str], ...]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        raw_export(hub, body, metadata)
    return caught.value


def one_span_request(stack: str, span_ids: list[bytes]) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    kv = resource_spans.resource.attributes.add()
    kv.key, kv.value.string_value = "stack.name", stack
    spans = resource_spans.scope_spans.add().spans
    now = time.time_ns()
    trace_id = os.urandom(16)  # a fresh trace: the store dedups trace id + span id
    for i, span_id in enumerate(span_ids):
        span = spans.add()
        span.trace_id = trace_id
        span.span_id = span_id
        span.name = f"work {i}"
        span.start_time_unix_nano = now
        span.end_time_unix_nano = now + 5_000_000
    return request.SerializeToString()


def test_serve_announces_the_grpc_address(hub: HubProcess) -> None:
    assert f"  OTLP/gRPC 127.0.0.1:{hub.grpc_port}\n" in hub.log_path.read_text()


def test_sdk_spans_over_grpc_are_stored_field_by_field(hub: HubProcess) -> None:
    provider = TracerProvider(resource=resource("grpc-stack"))
    exporter = OTLPSpanExporter(
        endpoint=hub.grpc_target,
        insecure=True,
        headers={"x-api-key": hub.admin_key},
        compression=grpc.Compression.Gzip,
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent sisyphus") as agent_span:
        agent_span.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent_span.set_attribute("gen_ai.agent.name", "sisyphus")
        with tracer.start_as_current_span("chat claude") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.provider.name", "anthropic")
            llm.set_attribute("gen_ai.response.model", "claude-sonnet-4-20250514")
            llm.set_attribute("gen_ai.usage.input_tokens", 1500)
            llm.set_attribute("gen_ai.usage.output_tokens", 500)
            llm.set_attribute("gen_ai.usage.cache_read.input_tokens", 300)
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

    stored = {e["event_type"]: e for e in events_of(hub, "grpc-stack", 3)}
    assert set(stored) == {"span", "llm_call", "tool_use"}
    call = stored["llm_call"]
    assert (call["trace_id"], call["span_id"]) == (
        f"{llm_ctx.trace_id:032x}",
        f"{llm_ctx.span_id:016x}",
    )
    assert call["parent_span_id"] == stored["span"]["span_id"]
    assert (call["provider"], call["model"]) == ("anthropic", "claude-sonnet-4-20250514")
    assert (call["tokens_in"], call["tokens_out"], call["tokens_cache_read"]) == (1500, 500, 300)
    assert call["session_id"] == "conv-42" and call["service"] == "chat-api"
    assert call["duration_ms"] >= 10 and call["success"] is True
    assert call["user_id"].startswith("u_") and "alice" not in str(call)
    assert "content_hash" in call and "refactor the parser" not in str(call)
    assert stored["tool_use"]["tool"] == "bash" and stored["tool_use"]["success"] is False
    assert stored["tool_use"]["error_code"] == "exit status 1"
    assert stored["span"]["agent"] == "sisyphus"
    with hub.client() as client:
        exposition = client.get("/metrics").text
    assert 'stacklens_ingest_requests_total{protocol="otlp_grpc_traces",status="200"}' in (
        exposition
    )


def test_sdk_logs_over_grpc_with_a_bearer_token(hub: HubProcess) -> None:
    provider = LoggerProvider(resource=resource("grpc-logs"))
    exporter = OTLPLogExporter(
        endpoint=hub.grpc_target,
        insecure=True,
        headers={"authorization": f"Bearer {hub.admin_key}"},
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    span_context = SpanContext(
        0x1234567890ABCDEF1234567890ABCDEF,
        0x1122334455667788,
        is_remote=False,
        trace_flags=TraceFlags(1),
    )
    provider.get_logger("test").emit(
        timestamp=time.time_ns(),
        body="upstream timed out after 30s",
        severity_text="ERROR",
        severity_number=SeverityNumber.ERROR,
        context=set_span_in_context(NonRecordingSpan(span_context)),
        attributes={"http.route": "/v1/chat"},
    )
    provider.shutdown()
    [log] = events_of(hub, "grpc-logs", 1)
    assert (log["event_type"], log["level"]) == ("log", "error")
    assert log["message"] == "upstream timed out after 30s"
    assert (log["trace_id"], log["span_id"]) == (
        "1234567890abcdef1234567890abcdef",
        "1122334455667788",
    )
    assert log["path"] == "/v1/chat" and log["service"] == "chat-api"


def test_sdk_metrics_over_grpc_are_queryable_by_name(hub: HubProcess) -> None:
    exporter = OTLPMetricExporter(
        endpoint=hub.grpc_target, insecure=True, headers={"x-api-key": hub.admin_key}
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(resource=resource("grpc-metrics"), metric_readers=[reader])
    meter = provider.get_meter("gpu")
    meter.create_gauge("gpu_utilization_percent").set(87.5, {"gpu_id": "0"})
    histogram = meter.create_histogram("inference_duration_seconds", unit="s")
    for value in (0.2, 0.4, 3.0):
        histogram.record(value, {"model": "llama-3.3-8b"})
    provider.shutdown()
    with hub.client() as client:

        def points(name: str) -> list[dict[str, Any]] | None:
            found = client.get(f"/api/v1/metrics/{name}", params={"stack": "grpc-metrics"})
            return found.json()["points"] or None

        [gauge] = wait_until(lambda: points("gpu_utilization_percent"), timeout=15)
        assert (gauge["value"], gauge["kind"], gauge["attributes"]) == (
            87.5,
            "gauge",
            {"gpu_id": "0"},
        )
        [hist] = wait_until(lambda: points("inference_duration_seconds"), timeout=15)
        assert (hist["kind"], hist["count"], hist["unit"]) == ("histogram", 3, "s")
        assert hist["value"] == pytest.approx(0.2 + 0.4 + 3.0)
        assert sum(hist["bucket_counts"]) == 3


def test_partial_success_counts_the_rejected_span(hub: HubProcess) -> None:
    body = one_span_request("grpc-partial", [bytes(range(1, 9)), b"\x01\x02"])  # 2nd: 2 bytes
    answer = raw_export(hub, body, (("x-api-key", hub.admin_key),))
    assert answer.partial_success.rejected_spans == 1
    assert answer.partial_success.error_message.startswith("item 1: span_id must be 8 bytes")
    [event] = events_of(hub, "grpc-partial", 1)
    assert (event["span_id"], event["message"]) == ("0102030405060708", "work 0")


def test_full_success_has_no_partial_success(hub: HubProcess) -> None:
    body = one_span_request("grpc-full", [bytes(range(1, 9))])
    answer = raw_export(hub, body, (("x-api-key", hub.admin_key),))
    assert not answer.HasField("partial_success")


def test_every_span_rejected_is_invalid_argument(hub: HubProcess) -> None:
    error = refused(hub, one_span_request("x", [b"\x01"]), (("x-api-key", hub.admin_key),))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("every item was rejected: item 0: span_id")


def test_keys_roles_and_stack_binding(hub: HubProcess) -> None:
    body = one_span_request("bound-a", [bytes(range(1, 9))])
    missing = refused(hub, body, ())
    assert missing.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing API key" in missing.details()
    unknown = refused(hub, body, (("x-api-key", "slk_not_a_key"),))
    assert (unknown.code(), unknown.details()) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "unknown or revoked API key",
    )
    reader = refused(hub, body, (("authorization", f"Bearer {new_key(hub, 'read')}"),))
    assert (reader.code(), reader.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "a read key cannot write",
    )
    bound = new_key(hub, "ingest", stack="bound-a")
    other = refused(hub, body, (("x-api-key", bound), ("x-stack-name", "bound-b")))
    assert other.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "bound to stack 'bound-a'" in other.details()
    # The bound key writes to its own stack: the resource's stack.name agrees with it.
    raw_export(hub, body, (("x-api-key", bound),))
    [event] = events_of(hub, "bound-a", 1)
    assert event["stack_name"] == "bound-a"


@pytest.mark.parametrize(
    "body",
    [b"garbage that is not protobuf", b"\x0a\x05\x0a\x03", b"\xff" * 40],
)
def test_bad_protobuf_is_invalid_argument(hub: HubProcess, body: bytes) -> None:
    error = refused(hub, body, (("x-api-key", hub.admin_key),))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("cannot decode OTLP traces: invalid OTLP protobuf body")
    status = Status.FromString(dict(error.trailing_metadata())["grpc-status-details-bin"])
    assert (status.code, status.message) == (3, error.details())


def test_exporter_with_a_wrong_key_fails_without_storing(hub: HubProcess) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=resource("grpc-wrong-key"))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("test").start_as_current_span("lost"):
        pass
    exporter = OTLPSpanExporter(
        endpoint=hub.grpc_target, insecure=True, headers={"x-api-key": "slk_wrong"}
    )
    started = time.monotonic()
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.FAILURE
    assert time.monotonic() - started < 5  # UNAUTHENTICATED is not retried
    with hub.client() as client:
        found = client.get("/api/v1/events", params={"stack": "grpc-wrong-key"}).json()
    assert found["events"] == []


def test_backpressure_and_size_bound(tmp_path: Path) -> None:
    """A spool backlog past its bound is RESOURCE_EXHAUSTED with RetryInfo (retryable); a
    message past max_body_bytes is gRPC's own RESOURCE_EXHAUSTED, without it."""
    env = {
        "STACKLENS_MAX_BACKLOG_BYTES": "1",
        "STACKLENS_LOADER_INTERVAL_S": "3600",  # the backlog stays
        "STACKLENS_MAX_BODY_BYTES": str(64 * 1024),
    }
    with HubProcess(tmp_path / "data", env=env) as small:
        key = (("x-api-key", small.admin_key),)
        too_big = refused(small, b"\x0a" + b"\x00" * (100 * 1024), key)
        assert too_big.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max" in too_big.details()
        assert "google.rpc.retryinfo-bin" not in dict(too_big.trailing_metadata() or ())

        raw_export(small, one_span_request("bp", [bytes(range(1, 9))]), key)  # fills it
        full = refused(small, one_span_request("bp", [bytes(range(2, 10))]), key)
        assert full.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert full.details() == "spool backlog is over its bound"
        trailing = dict(full.trailing_metadata())
        status = Status.FromString(trailing["grpc-status-details-bin"])
        assert (status.code, status.message) == (8, "spool backlog is over its bound")
        [detail] = status.details
        retry = RetryInfo()
        assert detail.Unpack(retry) and retry.retry_delay.seconds == 1
        assert RetryInfo.FromString(trailing["google.rpc.retryinfo-bin"]) == retry


def test_sigterm_under_grpc_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """Calls in flight at SIGTERM finish before the spools close: every span the hub
    acknowledged over gRPC is there after a restart."""
    data_dir = tmp_path / "data"
    hub = HubProcess(data_dir).start()
    acked: list[str] = []
    stop = threading.Event()

    def send(sender: int) -> None:
        with grpc.insecure_channel(hub.grpc_target) as channel:
            export = channel.unary_unary(TRACES)
            n = 0
            while not stop.is_set():
                n += 1
                ids = [(sender * 10**6 + n * 100 + i).to_bytes(8, "big") for i in range(50)]
                try:
                    export(
                        one_span_request("drain", ids),
                        metadata=(("x-api-key", hub.admin_key),),
                        timeout=10,
                    )
                except grpc.RpcError:
                    return  # the hub is going away: this batch was not acknowledged
                acked.extend(i.hex() for i in ids)

    senders = [threading.Thread(target=send, args=(t,)) for t in range(3)]
    for sender in senders:
        sender.start()
    wait_until(lambda: len(acked) >= 300, timeout=30)
    hub.stop()  # SIGTERM while the senders are mid-call
    stop.set()
    for sender in senders:
        sender.join(timeout=30)
    # It drained and exited by itself (uvicorn re-raises SIGTERM), not killed after 30 s.
    assert hub.process is not None and hub.process.returncode == -signal.SIGTERM
    # A restart loads what the spool holds; the store then has every acknowledged span once.
    with HubProcess(data_dir) as again:
        wait_until(lambda: again.client().get("/ready").status_code == 200)
    con = duckdb.connect(str(data_dir / "events.duckdb"), read_only=True)
    rows = con.execute("SELECT span_id FROM events WHERE stack_name = 'drain'").fetchall()
    con.close()
    stored = [row[0] for row in rows]
    assert len(stored) == len(set(stored))
    assert set(stored) >= set(acked) and len(acked) >= 300
