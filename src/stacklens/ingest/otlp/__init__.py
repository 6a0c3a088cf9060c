"""OTLP/HTTP decoders: traces, logs and metrics bodies → the hub's native shapes.

Pure functions (no I/O): the OTLP adapter (``ingest/otlp_http.py``) runs the
``*_steps`` decoders on the (already gunzipped) body and its Content-Type, hands the
batch to the ingest service, and answers with ``export_response`` / ``status_body``.
"""

from __future__ import annotations

from .content import OtlpDecodeError, UnsupportedMediaType, media_type
from .data_points import MetricPoint, MetricsDecodeResult, decode_metrics, metric_steps
from .log_records import decode_logs, log_steps, severity_level
from .result import DecodeResult
from .status import export_response, response_media_type, status_body
from .traces import decode_traces, trace_steps

__all__ = [
    "DecodeResult",
    "MetricPoint",
    "MetricsDecodeResult",
    "OtlpDecodeError",
    "UnsupportedMediaType",
    "decode_logs",
    "decode_metrics",
    "decode_traces",
    "export_response",
    "log_steps",
    "media_type",
    "metric_steps",
    "response_media_type",
    "severity_level",
    "status_body",
    "trace_steps",
]
