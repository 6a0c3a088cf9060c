"""``stacklens.sdk``: what an AI stack imports to be observable.

The public face is what a stack author calls; everything else lives in its submodule
(``stacklens.sdk.trace.outgoing_headers``, ``stacklens.sdk.asgi.MetricsApp``...).

- events: :class:`Client` (``session_start``, ``message``, ``tool_use``, ``llm_call``,
  ``error``, ``heartbeat``, ``feedback``, ``emit``) → the hub, or a JSONL file;
  :func:`get_client`, one process-wide ``Client`` from the environment;
- logs: :func:`setup_structured_logging`, :func:`get_structured_logger`;
- metrics: :func:`get_metrics_exporter`, the one metrics API (the seed-named helpers,
  and ``labels(name, ...)`` for any catalog metric); :func:`register_gpu_collector`,
  the GPU gauges read at scrape time;
- ASGI: :class:`StackLensMiddleware` (metrics, ``x-trace-id``, access log, ``/metrics``);
- trace and request context: :func:`set_trace_context`, :func:`context_scope`,
  :func:`instrument_httpx` (forwards ``x-trace-id`` and ``traceparent``).

Light on purpose: structlog, prometheus_client, httpx and msgspec only (no web
framework, no database); OpenTelemetry and NVML are used when present.
"""

from __future__ import annotations

from stacklens.sdk.asgi import StackLensMiddleware
from stacklens.sdk.client import Client, get_client
from stacklens.sdk.context import context_scope, set_trace_context
from stacklens.sdk.exporter import get_metrics_exporter
from stacklens.sdk.gpu import register_gpu_collector
from stacklens.sdk.logging import get_structured_logger, setup_structured_logging
from stacklens.sdk.trace import instrument_httpx

__all__ = [
    "Client",
    "StackLensMiddleware",
    "context_scope",
    "get_client",
    "get_metrics_exporter",
    "get_structured_logger",
    "instrument_httpx",
    "register_gpu_collector",
    "set_trace_context",
    "setup_structured_logging",
]
