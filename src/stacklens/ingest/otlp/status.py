"""OTLP/HTTP response bodies: Export*ServiceResponse (with partial_success) and
``google.rpc.Status`` for errors, encoded to match the request's content type.

OTLP/HTTP spec: a fully accepted request gets an empty response (``partial_success``
unset); when some items were rejected the server MUST fill ``partial_success`` with the
rejected count and a message; a non-empty message with a zero count is a warning.
Errors (400, 415, 429, 503 ...) carry a ``google.rpc.Status`` body.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from google.protobuf import json_format
from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from .content import JSON, PROTOBUF

__all__ = ["export_response", "response_media_type", "status_body"]

_RESPONSES: Final[dict[str, tuple[Any, str]]] = {
    "traces": (ExportTraceServiceResponse, "rejected_spans"),
    "logs": (ExportLogsServiceResponse, "rejected_log_records"),
    "metrics": (ExportMetricsServiceResponse, "rejected_data_points"),
}


def response_media_type(content_type: str | None) -> str:
    """The Content-Type to answer with: JSON for a JSON request, protobuf otherwise."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return JSON if base == JSON else PROTOBUF


def _encode(message: Any, content_type: str | None) -> bytes:
    if response_media_type(content_type) == JSON:
        text: str = json_format.MessageToJson(message, indent=None)
        return text.encode()
    data: bytes = message.SerializeToString()
    return data


def export_response(
    kind: Literal["traces", "logs", "metrics"],
    rejected_count: int,
    message: str,
    content_type: str,
) -> bytes:
    """The success body for ``kind``; ``partial_success`` when something was rejected."""
    response_class, count_field = _RESPONSES[kind]
    response = response_class()
    if rejected_count > 0 or message:
        partial = response.partial_success
        setattr(partial, count_field, max(rejected_count, 0))
        partial.error_message = message
    return _encode(response, content_type)


def status_body(code: int, message: str, content_type: str) -> bytes:
    """A ``google.rpc.Status`` error body (``code`` is a gRPC code, e.g. 3 INVALID_ARGUMENT)."""
    return _encode(Status(code=code, message=message), content_type)
