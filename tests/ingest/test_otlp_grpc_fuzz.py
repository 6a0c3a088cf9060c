"""Fuzzing OTLP/gRPC: random bytes and truncated requests on the three services are
``INVALID_ARGUMENT`` (or accepted when they still parse), never ``INTERNAL``/``UNKNOWN``;
whatever is acknowledged loads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from stacklens.testing import ADMIN_KEY, free_port, in_process_hub

SERVICES = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}
NOW = 1_767_225_600 * 10**9


def _traces() -> bytes:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for i in range(3):
        span = spans.add(name=f"chat {i}", start_time_unix_nano=NOW, end_time_unix_nano=NOW + 9)
        span.trace_id, span.span_id = bytes([5] * 15 + [i + 1]), bytes([6] * 7 + [i + 1])
        span.attributes.add(key="gen_ai.request.model").value.string_value = "gpt-4o"
        span.attributes.add(key="gen_ai.usage.input_tokens").value.int_value = 12
    return request.SerializeToString()


def _logs() -> bytes:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for i in range(2):
        record = records.add(time_unix_nano=NOW + i, severity_text="WARN")
        record.body.string_value = f"disk {i} nearly full"
    return request.SerializeToString()


def _metrics() -> bytes:
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="queue_depth")
    for i in range(2):
        metric.gauge.data_points.add(time_unix_nano=NOW + i, as_double=3.5)
    return request.SerializeToString()


VALID = {"traces": _traces(), "logs": _logs(), "metrics": _metrics()}
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def grpc_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, grpc.Channel]]:
    port = free_port()
    data_dir = Path(tmp_path_factory.mktemp("grpc-fuzz")) / "data"
    with (
        in_process_hub(data_dir, otlp_grpc_port=port, max_body_bytes=256 * 1024) as (hub, _),
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        yield hub, channel


def call(channel: grpc.Channel, kind: str, body: bytes) -> grpc.StatusCode:
    export = channel.unary_unary(SERVICES[kind])
    try:
        export(body, metadata=(("x-api-key", ADMIN_KEY), ("x-stack-name", "fuzz")), timeout=30)
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
        return code
    return grpc.StatusCode.OK


def assert_loadable(hub: Any) -> None:
    hub.flush()
    assert hub.loader.last_error is None and hub.metrics_loader.last_error is None
    assert hub.loader.rows_quarantined == 0 and hub.metrics_loader.rows_quarantined == 0


@SETTINGS
@given(kind=st.sampled_from(sorted(SERVICES)), body=st.binary(min_size=1, max_size=2000))
def test_random_bytes_are_invalid_argument(
    grpc_hub: tuple[Any, grpc.Channel], kind: str, body: bytes
) -> None:
    hub, channel = grpc_hub
    # Random bytes rarely parse; when they do, they hold no valid item, or a valid one.
    assert call(channel, kind, body) in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OK)
    assert_loadable(hub)


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(sorted(SERVICES)))
def test_truncated_and_flipped_requests_never_internal(
    grpc_hub: tuple[Any, grpc.Channel], data: st.DataObject, kind: str
) -> None:
    hub, channel = grpc_hub
    valid = VALID[kind]
    body = bytearray(valid[: data.draw(st.integers(min_value=1, max_value=len(valid) - 1))])
    for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
        position = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        body[position] = data.draw(st.integers(min_value=0, max_value=255))
    assert call(channel, kind, bytes(body)) in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.OK,
    )
    assert_loadable(hub)


def test_a_plain_truncation_is_invalid_argument(grpc_hub: tuple[Any, grpc.Channel]) -> None:
    _, channel = grpc_hub
    for kind, valid in VALID.items():
        assert call(channel, kind, valid[:-3]) == grpc.StatusCode.INVALID_ARGUMENT, kind
        assert call(channel, kind, valid) == grpc.StatusCode.OK, kind
