"""OTLP/HTTP request bodies → opentelemetry-proto messages, by content type.

``application/x-protobuf`` is parsed by protobuf's C (upb) parser. ``application/json``
is OTLP JSON, which differs from protobuf's canonical JSON mapping in one way that
matters: trace and span ids are *hex*, not base64. So the JSON document is decoded
(msgspec, strict UTF-8), the ids at their known places are rewritten hex → base64,
and ``json_format.ParseDict(ignore_unknown_fields=True)`` does the rest (it accepts
enums as integers or names, int64 as strings or numbers, camelCase or snake_case keys).

An id that is not valid hex is replaced by a 1-byte value so the item is rejected for
its id later (per item), instead of the whole request failing on one bad id.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any, Final, Literal

import msgspec
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from stacklens.ingest.limits import DEFAULT_REQUEST_LIMITS, RequestLimits, check_items
from stacklens.ingest.steps import CHUNK

from .cost import NOUNS, check_json_items, count_items

__all__ = [
    "JSON",
    "PROTOBUF",
    "Kind",
    "OtlpDecodeError",
    "UnsupportedMediaType",
    "media_type",
    "parse_chunks",
    "parse_request",
]

Kind = Literal["traces", "logs", "metrics"]

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
_ALIASES: Final = {PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF, JSON: JSON}

_REQUESTS: Final[dict[str, Any]] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}


class OtlpDecodeError(ValueError):
    """The body cannot be parsed at all (HTTP 400); ``str(err)`` is the client message."""


class UnsupportedMediaType(OtlpDecodeError):
    """The Content-Type is neither OTLP protobuf nor OTLP JSON (HTTP 415)."""


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` → ``application/json``; raise on others."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    found = _ALIASES.get(base)
    if found is None:
        raise UnsupportedMediaType(
            f"unsupported content type {base[:60]!r}: use {PROTOBUF} or {JSON}"
        )
    return found


def parse_request(kind: Kind, body: bytes, content_type: str | None) -> Any:
    """Parse an Export*ServiceRequest of ``kind`` from ``body`` (one message)."""
    message = _REQUESTS[kind]()
    for chunk in parse_chunks(kind, body, content_type):
        if chunk is not None:
            message.MergeFrom(chunk)
    return message


def parse_chunks(
    kind: Kind,
    body: bytes,
    content_type: str | None,
    limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
) -> Iterator[Any]:
    """Export*ServiceRequest messages that together hold ``body``'s items, in order,
    with ``None`` between them where the caller may pause.

    Protobuf is one message (upb parses 10 MB in milliseconds). JSON is split into
    messages of at most ``CHUNK`` items each, because ``ParseDict`` is pure Python and
    costs ~80 µs a span: a caller can give the event loop back between chunks. The
    per-request bounds are checked before any of that Python work.
    """
    if media_type(content_type) == PROTOBUF:
        message = _REQUESTS[kind]()
        try:
            message.ParseFromString(body)
        except (DecodeError, ValueError, RecursionError) as err:
            raise OtlpDecodeError(f"invalid OTLP protobuf body: {err}"[:300]) from None
        check_items(count_items(kind, message), limits, NOUNS[kind])
        yield message
        return
    try:
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError) as err:
        raise OtlpDecodeError(f"invalid JSON: {err}"[:300]) from None
    if isinstance(document, list) or (isinstance(document, dict) and "event_type" in document):
        # A native event at an OTLP path was answered 200 {} and dropped: say where it goes.
        raise OtlpDecodeError(
            "this looks like native stacklens events, not OTLP JSON: post them to /v1/events"
        )
    if not isinstance(document, dict):
        raise OtlpDecodeError("an OTLP JSON body must be an object")
    yield None
    check_json_items(kind, _json_items(kind, document), limits)
    yield None
    for piece in _split(kind, document):
        _rewrite_ids(kind, piece)
        message = _REQUESTS[kind]()
        try:
            json_format.ParseDict(piece, message, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError, RecursionError) as err:
            raise OtlpDecodeError(f"invalid OTLP JSON: {err}"[:300]) from None
        yield message


# ---------------------------------------------------------------- cost and chunks

#: (resource list, scope list, item list) names, camelCase then snake_case.
_PATHS: Final = {
    "traces": (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans",)),
    "logs": (
        ("resourceLogs", "resource_logs"),
        ("scopeLogs", "scope_logs"),
        ("logRecords", "log_records"),
    ),
    "metrics": (
        ("resourceMetrics", "resource_metrics"),
        ("scopeMetrics", "scope_metrics"),
        ("metrics",),
    ),
}


def _json_items(kind: Kind, document: dict[str, Any]) -> list[Any]:
    tops, scopes, leaves = _PATHS[kind]
    items = [
        item
        for resource in _children(document, *tops)
        for scope in _children(resource, *scopes)
        for item in _children(scope, *leaves)
    ]
    if kind != "metrics":
        return items
    return [
        point
        for metric in items
        if isinstance(metric, dict)
        for name in _METRIC_DATA
        for point in _children(metric.get(name), "dataPoints", "data_points")
    ]


def _split(kind: Kind, document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``document`` as documents of at most ``CHUNK`` items each, in item order.

    A shape that is not lists of objects is passed through whole: ParseDict reports it.
    """
    tops, scopes, leaves = _PATHS[kind]
    top, resources = _keyed_list(document, tops)
    if resources is None or not all(isinstance(r, dict) for r in resources):
        yield document
        return
    rest = _without(document, tops)
    for resource in resources:
        scope_key, scope_list = _keyed_list(resource, scopes)
        if scope_list is None or not all(isinstance(s, dict) for s in scope_list):
            yield {**rest, top: [resource]}
            continue
        resource_rest = _without(resource, scopes)
        for scope in scope_list:
            leaf_key, leaf_list = _keyed_list(scope, leaves)
            if leaf_list is None or len(leaf_list) <= CHUNK:
                yield {**rest, top: [{**resource_rest, scope_key: [scope]}]}
                continue
            scope_rest = _without(scope, leaves)
            for start in range(0, len(leaf_list), CHUNK):
                piece = {**scope_rest, leaf_key: leaf_list[start : start + CHUNK]}
                yield {**rest, top: [{**resource_rest, scope_key: [piece]}]}


def _without(parent: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in parent.items() if k not in names}


def _keyed_list(parent: dict[str, Any], names: tuple[str, ...]) -> tuple[str, list[Any] | None]:
    for name in names:
        items = parent.get(name)
        if isinstance(items, list):
            return name, items
    return names[0], None


# ---------------------------------------------------------------- hex ids in JSON

_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")
_BAD_ID: Final = base64.b64encode(b"\xff").decode()  # wrong length on purpose
_ID_KEYS: Final = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_to_base64(text: str) -> str:
    if _HEX.fullmatch(text):
        return base64.b64encode(bytes.fromhex(text)).decode()
    return _BAD_ID


def _fix_ids(item: Any) -> None:
    if isinstance(item, dict):
        for key in _ID_KEYS:
            value = item.get(key)
            if isinstance(value, str):
                item[key] = _hex_to_base64(value)


def _children(parent: Any, *names: str) -> Iterator[Any]:
    """Items of the first list found under one of ``names`` (camelCase or snake_case)."""
    if not isinstance(parent, dict):
        return
    for name in names:
        items = parent.get(name)
        if isinstance(items, list):
            yield from items
            return


def _rewrite_ids(kind: Kind, document: dict[str, Any]) -> None:
    # Wrong shapes are skipped here; ParseDict reports them.
    if kind == "traces":
        for rs in _children(document, "resourceSpans", "resource_spans"):
            for ss in _children(rs, "scopeSpans", "scope_spans"):
                for span in _children(ss, "spans"):
                    _fix_ids(span)
                    for link in _children(span, "links"):
                        _fix_ids(link)
    elif kind == "logs":
        for rl in _children(document, "resourceLogs", "resource_logs"):
            for sl in _children(rl, "scopeLogs", "scope_logs"):
                for record in _children(sl, "logRecords", "log_records"):
                    _fix_ids(record)
    else:
        for rm in _children(document, "resourceMetrics", "resource_metrics"):
            for sm in _children(rm, "scopeMetrics", "scope_metrics"):
                for metric in _children(sm, "metrics"):
                    _fix_metric_ids(metric)


_METRIC_DATA: Final = (
    "gauge",
    "sum",
    "histogram",
    "exponentialHistogram",
    "exponential_histogram",
    "summary",
)


def _fix_metric_ids(metric: Any) -> None:
    if not isinstance(metric, dict):
        return
    for name in _METRIC_DATA:
        for point in _children(metric.get(name), "dataPoints", "data_points"):
            for exemplar in _children(point, "exemplars"):
                _fix_ids(exemplar)
