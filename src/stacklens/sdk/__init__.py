"""``stacklens.sdk``: what an AI stack imports to be observable.

- events: :class:`Client` (``session_start``, ``message``, ``tool_use``, ``llm_call``,
  ``error``, ``heartbeat``, ``feedback``, ``emit``) → the hub, or a JSONL file;
- logs: :func:`setup_structured_logging`, :func:`get_structured_logger` (seed 003/004);
- metrics: :class:`Metrics` (the catalog), :func:`get_metrics_exporter` (seed 003),
  :func:`register_gpu_collector`;
- traces: :func:`set_trace_context`, :func:`instrument_httpx`, ``x-trace-id``;
- ASGI: :class:`StackLensMiddleware`, :class:`MetricsApp`.

Light on purpose: structlog, prometheus_client, httpx and msgspec only (no web
framework, no database); OpenTelemetry and NVML are used when present.
"""

from __future__ import annotations

from stacklens.sdk.asgi import MetricsApp, StackLensMiddleware, metrics_app
from stacklens.sdk.catalog import CATALOG, Metrics, MetricSpec
from stacklens.sdk.client import Client, get_client
from stacklens.sdk.context import (
    LogContext,
    bind_context,
    clear_context,
    context_scope,
    current_context,
    reset_context,
    set_trace_context,
)
from stacklens.sdk.exporter import MetricsExporter, get_metrics_exporter
from stacklens.sdk.gpu import GpuCollector, register_gpu_collector
from stacklens.sdk.logging import (
    REQUIRED_FIELDS,
    StructuredLogger,
    get_structured_logger,
    setup_structured_logging,
)
from stacklens.sdk.trace import (
    TRACE_ID_HEADER,
    TRACEPARENT_HEADER,
    current_trace_ids,
    instrument_httpx,
    new_trace_id,
    outgoing_headers,
    trace_from_headers,
)

__all__ = [
    "CATALOG",
    "REQUIRED_FIELDS",
    "TRACEPARENT_HEADER",
    "TRACE_ID_HEADER",
    "Client",
    "GpuCollector",
    "LogContext",
    "MetricSpec",
    "Metrics",
    "MetricsApp",
    "MetricsExporter",
    "StackLensMiddleware",
    "StructuredLogger",
    "bind_context",
    "clear_context",
    "context_scope",
    "current_context",
    "current_trace_ids",
    "get_client",
    "get_metrics_exporter",
    "get_structured_logger",
    "instrument_httpx",
    "metrics_app",
    "new_trace_id",
    "outgoing_headers",
    "register_gpu_collector",
    "reset_context",
    "set_trace_context",
    "setup_structured_logging",
    "trace_from_headers",
]
