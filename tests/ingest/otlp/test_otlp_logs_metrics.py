"""decode_logs / decode_metrics against bodies made by the real OpenTelemetry SDK."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import msgspec
import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from stacklens.ingest.otlp import MetricPoint, decode_logs, decode_metrics, severity_level
from stacklens.schema import normalize

PB = "application/x-protobuf"
# Python logging -> OTLP through the SDK handler is what apps do today; it warns that it moves.
pytestmark = pytest.mark.filterwarnings("ignore:.*LoggingHandler.*:DeprecationWarning")
RESOURCE = Resource.create({"service.name": "worker", "service.namespace": "ops"})


def log_body(emit: Any) -> bytes:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logging.getLogger(f"stacklens.test.{id(exporter)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(LoggingHandler(logger_provider=provider))
    emit(logger)
    provider.shutdown()
    return encode_logs(exporter.get_finished_logs()).SerializeToString()


def test_python_logging_records() -> None:
    tracer = TracerProvider().get_tracer("t")

    def emit(logger: logging.Logger) -> None:
        logger.info("started %s", "ok", extra={"user.id": "u7", "job": "nightly"})
        with tracer.start_as_current_span("work"):
            logger.warning("slow")
        try:
            raise KeyError("k")
        except KeyError:
            logger.exception("failed")

    result = decode_logs(log_body(emit), PB)
    assert result.rejected == []
    info, warn, error = result.events
    assert (info["event_type"], info["level"], info["message"]) == ("log", "info", "started ok")
    assert info["user_id"] == "u7"
    assert info["attributes"]["job"] == "nightly"
    assert (info["stack_name"], info["service"]) == ("ops", "worker")
    assert "trace_id" not in info
    assert warn["level"] == "warn"  # severity_text ("WARN" from the Python SDK) lowercased
    assert len(warn["trace_id"]) == 32
    assert len(warn["span_id"]) == 16
    assert error["level"] == "error"
    assert error["data"]["error_code"] == "KeyError"
    assert len({e["event_id"] for e in result.events}) == 3
    for event in result.events:
        normalize(event, default_stack="s", now_ns=time.time_ns(), new_id=lambda: "x")
    # An exporter retry of the same body gives the same ids (dedup in the store).
    assert [e["event_id"] for e in decode_logs(log_body(emit), PB).events] != []


def test_retry_has_same_event_ids() -> None:
    body = log_body(lambda logger: logger.error("x"))
    assert (
        decode_logs(body, PB).events[0]["event_id"] == decode_logs(body, PB).events[0]["event_id"]
    )


@pytest.mark.parametrize(
    ("number", "text", "level"),
    [(1, "", "trace"), (8, "", "debug"), (9, "", "info"), (13, "", "warn"), (17, "", "error"),
     (24, "", "fatal"), (0, "", None), (17, "CRITICAL", "critical")],
)  # fmt: skip
def test_severity(number: int, text: str, level: str | None) -> None:
    assert severity_level(number, text) == level


def _log_request() -> Any:
    return ExportLogsServiceRequest.FromString(log_body(lambda lg: [lg.info(n) for n in "abc"]))


def test_log_times_and_bad_ids() -> None:
    request = _log_request()
    records = request.resource_logs[0].scope_logs[0].log_records
    records[0].time_unix_nano = 0  # falls back to observed time
    records[1].time_unix_nano = 0
    records[1].observed_time_unix_nano = 0
    records[2].trace_id = b"\x01" * 5
    result = decode_logs(request.SerializeToString(), PB)
    assert [e["message"] for e in result.events] == ["a"]
    assert result.events[0]["timestamp"] == records[0].observed_time_unix_nano
    assert result.rejected == [
        (1, "log record has no time"),
        (2, "trace_id must be 16 bytes (32 hex characters)"),
    ]


def test_structured_and_genai_event_bodies() -> None:
    request = _log_request()
    records = request.resource_logs[0].scope_logs[0].log_records
    records[0].body.Clear()
    kv = records[0].body.kvlist_value.values.add(key="k")
    kv.value.int_value = 5
    records[1].event_name = "gen_ai.user.message"
    records[1].body.Clear()
    records[1].body.kvlist_value.values.add(key="content").value.string_value = "my prompt"
    model = records[1].attributes.add(key="gen_ai.request.model")
    model.value.string_value = "gpt-4o"
    events = decode_logs(request.SerializeToString(), PB).events
    assert events[0]["message"] == '{"k":5}'
    assert events[1]["message"] == "gen_ai.user.message"
    assert events[1]["data"]["content"] == '{"content":"my prompt"}'
    assert events[1]["data"]["model"] == "gpt-4o"


def test_logs_otlp_json() -> None:
    document = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1700000000000000000",
                                "severityNumber": "SEVERITY_NUMBER_ERROR",
                                "body": {"stringValue": "oops"},
                                "traceId": "0102030405060708090a0b0c0d0e0f10",
                                "spanId": "0102030405060708",
                                "whatever": 1,
                            }
                        ]
                    }
                ],
            }
        ]
    }
    [event] = decode_logs(json.dumps(document).encode(), "application/json").events
    assert (event["level"], event["message"], event["service"]) == ("error", "oops", "a")
    assert event["trace_id"] == "0102030405060708090a0b0c0d0e0f10"
    assert event["span_id"] == "0102030405060708"


def metrics_body() -> bytes:
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("m")
    meter.create_counter("tokens", unit="{token}").add(5, {"model": "gpt-4o"})
    meter.create_histogram("latency", unit="ms").record(42.0, {"route": "/chat"})
    meter.create_up_down_counter("inflight").add(-2)
    meter.create_gauge("temp").set(21.5)
    data = reader.get_metrics_data()
    assert data is not None
    return encode_metrics(data).SerializeToString()


def test_sdk_metrics_to_points() -> None:
    result = decode_metrics(metrics_body(), PB)
    assert result.rejected == []
    points = {p.name: p for p in result.points}
    tokens = points["tokens"]
    assert (tokens.kind, tokens.value, tokens.monotonic, tokens.unit) == (
        "sum",
        5.0,
        True,
        "{token}",
    )
    assert (tokens.stack_name, tokens.service, tokens.temporality) == (
        "ops",
        "worker",
        "cumulative",
    )
    assert json.loads(tokens.attributes) == {"model": "gpt-4o"}
    assert tokens.start_ts is not None
    assert tokens.ts >= tokens.start_ts
    latency = points["latency"]
    assert (latency.kind, latency.value, latency.count) == ("histogram", 42.0, 1)
    assert latency.bounds is not None
    assert latency.bucket_counts is not None
    assert len(latency.bucket_counts) == len(latency.bounds) + 1
    assert sum(latency.bucket_counts) == 1
    assert (points["inflight"].value, points["inflight"].monotonic) == (-2.0, False)
    assert (points["temp"].kind, points["temp"].value) == ("gauge", 21.5)
    # array_like: the lead can store rows positionally.
    assert msgspec.json.decode(msgspec.json.encode(tokens), type=MetricPoint) == tokens


def test_exponential_histogram_and_summary() -> None:
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    exp = scope.metrics.add(name="e").exponential_histogram
    point = exp.data_points.add(time_unix_nano=1, scale=0, count=7, sum=10.0, zero_count=1)
    point.positive.offset = 1
    point.positive.bucket_counts.extend([2, 3])  # (2, 4], (4, 8]
    point.negative.offset = 0
    point.negative.bucket_counts.extend([1])  # [-2, -1)
    summary = scope.metrics.add(name="s").summary
    sp = summary.data_points.add(time_unix_nano=2, count=4, sum=8.0)
    sp.quantile_values.add(quantile=0.5, value=1.5)
    bad = scope.metrics.add(name="g").gauge.data_points.add(time_unix_nano=0, as_int=1)
    del bad
    result = decode_metrics(request.SerializeToString(), PB)
    e, s_total, s_q = result.points
    assert e.kind == "exp_histogram"
    assert e.bounds == [-2.0, -1.0, 2.0, 4.0, 8.0]
    assert e.bucket_counts == [0, 1, 1, 2, 3, 0]
    assert sum(e.bucket_counts) == e.count
    assert (s_total.value, s_total.count) == (8.0, 4)
    assert (s_q.value, json.loads(s_q.attributes)) == (1.5, {"quantile": "0.5"})
    assert result.rejected == [(2, "data point has no time_unix_nano")]
