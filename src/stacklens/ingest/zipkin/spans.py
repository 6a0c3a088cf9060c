"""Zipkin v2 JSON spans → OTLP ``ExportTraceServiceRequest`` messages → raw events.

A Zipkin span is rebuilt as the OTLP span it stands for, and the OTLP trace mapping
(:func:`stacklens.ingest.otlp.traces.request_steps`) does the rest: a span carried by
Zipkin and one carried by OTLP with the same content are stored the same (event type,
GenAI fields, content hashed, attributes). The rebuilding undoes what a Zipkin
exporter does to an OTLP span (the OpenTelemetry Zipkin exporter's encoding, which the
OTel Collector's Zipkin receiver also reads back):

* ``localEndpoint.serviceName`` → the resource's ``service.name``; tags that are
  resource attributes (``service.*``, ``telemetry.*``, ``deployment.*``, ``host.*`` ...,
  ``stack.name``) go back to the resource, so ``stack.name`` / ``service.namespace``
  name the stack as they do over OTLP;
* ``otel.scope.name`` / ``otel.library.name`` (and versions) → the instrumentation scope;
* ``otel.status_code`` and ``error`` → the span status (``error``'s value its message);
* ``kind`` → the span kind (absent: internal, as the exporter drops it for internal);
* ``timestamp`` / ``duration`` (µs) → start / end (ns);
* annotations → span events (the exporter writes ``{"name": {attributes}}`` as the value),
  so exceptions and GenAI content events count as they do over OTLP;
* tag values are text in Zipkin: ``"true"``/``"false"``, integers, floats and JSON arrays
  that read back to exactly the same text become typed again (as the Collector's
  ``parse_string_tags`` does), everything else stays text.

Per-span problems reject that span (with its position in the request); a body that is not
a JSON list is refused whole.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

import msgspec
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from stacklens.ingest.limits import RequestLimits, check_attributes, check_items
from stacklens.ingest.otlp.attributes import ItemError
from stacklens.ingest.otlp.result import DecodeResult
from stacklens.ingest.otlp.traces import request_steps
from stacklens.ingest.steps import CHUNK, Steps

__all__ = ["ZipkinDecodeError", "typed_tag", "zipkin_steps"]

_KINDS: Final[dict[str | None, Any]] = {
    None: 1,
    "CLIENT": 3,
    "SERVER": 2,
    "PRODUCER": 4,
    "CONSUMER": 5,
}
_RESOURCE_PREFIXES: Final = (
    "service.",
    "telemetry.",
    "deployment.",
    "host.",
    "process.",
    "os.",
    "container.",
    "k8s.",
    "cloud.",
    "faas.",
    "device.",
)
_SCOPE_TAGS: Final = {
    "otel.scope.name": "name",
    "otel.library.name": "name",
    "otel.scope.version": "version",
    "otel.library.version": "version",
}
_DROPPED: Final = frozenset(
    {"otel.dropped_attributes_count", "otel.dropped_events_count", "otel.dropped_links_count"}
)
_STATUS: Final[dict[str, Any]] = {"OK": 1, "ERROR": 2}
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_INT: Final = re.compile(r"-?(?:0|[1-9][0-9]{0,18})")
_FLOAT: Final = re.compile(r"-?[0-9]+\.[0-9]+(?:e[+-]?[0-9]+)?")
_MAX_NS: Final = 2**64 - 1


class ZipkinDecodeError(ValueError):
    """The body is not a Zipkin v2 JSON list of spans (400); the message says why."""


def zipkin_steps(
    body: bytes, *, namespace_as_stack: bool, limits: RequestLimits
) -> Steps[DecodeResult]:
    """A Zipkin v2 JSON body → raw events, rejections at their request positions."""
    try:
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError) as err:
        raise ZipkinDecodeError(f"invalid JSON: {err}"[:300]) from None
    if not isinstance(document, list):
        raise ZipkinDecodeError("a Zipkin v2 body is a JSON list of spans")
    check_items(len(document), limits, "spans")
    yield
    request = ExportTraceServiceRequest()
    positions: list[int] = []  # request position of each span in ``request``, in order
    rejected: list[tuple[int, str]] = []
    group: tuple[Any, ...] | None = None
    spans: Any = None
    for index, item in enumerate(document):
        try:
            resource, scope, span = _span(item, index, limits)
        except ItemError as err:
            rejected.append((index, str(err)))
            continue
        # Consecutive spans of one resource and scope share a group (the usual batch is
        # one service), and positions stay in request order.
        key = (tuple(resource), tuple(sorted(scope.items())))
        if key != group:
            group = key
            resource_spans = request.resource_spans.add()
            resource_spans.resource.attributes.extend(_key_values(resource))
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = scope.get("name", "")
            scope_spans.scope.version = scope.get("version", "")
            spans = scope_spans.spans
        spans.append(span)
        positions.append(index)
        if index % CHUNK == CHUNK - 1:
            yield
    decoded = yield from request_steps(
        [request], namespace_as_stack=namespace_as_stack, limits=None
    )
    rejected += [(positions[i], reason) for i, reason in decoded.rejected]
    rejected.sort()
    return DecodeResult(decoded.events, rejected)


def _span(
    item: Any, index: int, limits: RequestLimits
) -> tuple[list[tuple[str, Any]], dict[str, str], Any]:
    """One Zipkin span → (resource attributes, scope, OTLP ``Span``)."""
    if not isinstance(item, dict):
        raise ItemError("a span must be a JSON object")
    trace_id = _hex_id(item.get("traceId"), (16, 32), "traceId").rjust(16, b"\0")
    span_id = _hex_id(item.get("id"), (16,), "id")
    parent = item.get("parentId")
    tags = item.get("tags") or {}
    if not isinstance(tags, dict):
        raise ItemError("tags must be an object of strings")
    check_attributes(len(tags), limits, index, "span")
    span = Span(trace_id=trace_id, span_id=span_id, name=_text(item.get("name"), "name"))
    if parent is not None:
        span.parent_span_id = _hex_id(parent, (16,), "parentId")
    kind = item.get("kind")
    # A JSON list or object is not hashable: test the type before the lookup.
    if not (kind is None or isinstance(kind, str)) or kind not in _KINDS:
        raise ItemError("kind must be CLIENT, SERVER, PRODUCER or CONSUMER")
    span.kind = _KINDS[kind]
    stamp = item.get("timestamp")
    start = _micros(stamp, "timestamp") if stamp is not None else 0
    if not start:
        raise ItemError("span has no timestamp")
    span.start_time_unix_nano = start
    duration = item.get("duration")
    if duration is not None:
        span.end_time_unix_nano = _bounded(start + _micros(duration, "duration"), "duration")

    resource: list[tuple[str, Any]] = []
    scope: dict[str, str] = {}
    attributes: list[tuple[str, Any]] = []
    local = _endpoint(item.get("localEndpoint"), "localEndpoint")
    service = local.get("serviceName")
    if isinstance(service, str) and service:
        resource.append(("service.name", service))
    _addresses(local, "network.local", attributes)
    remote = _endpoint(item.get("remoteEndpoint"), "remoteEndpoint")
    if isinstance(remote.get("serviceName"), str) and remote["serviceName"]:
        attributes.append(("peer.service", remote["serviceName"]))
    _addresses(remote, "network.peer", attributes)
    for key, raw in tags.items():
        if raw is None:
            continue
        value = _text(raw, f"tag {key!r}")
        if key in _SCOPE_TAGS:
            scope[_SCOPE_TAGS[key]] = value
        elif key == "otel.status_code":
            span.status.code = _STATUS.get(value.upper(), span.status.code)
        elif key == "error":  # Zipkin's failure marker; its value is the message
            span.status.code = Status.STATUS_CODE_ERROR
            span.status.message = value
        elif key in _DROPPED or (key == "service.name" and service):
            continue
        elif key == "stack.name" or key.startswith(_RESOURCE_PREFIXES):
            resource.append((key, typed_tag(value)))
        else:
            attributes.append((key, typed_tag(value)))
    span.attributes.extend(_key_values(attributes))
    _annotations(item.get("annotations"), span)
    return resource, scope, span


def typed_tag(text: str) -> Any:
    """A tag's text as the typed value it was, when the text reads back exactly."""
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        number = int(text)
        return number if -(2**63) <= number < 2**63 else text
    if _FLOAT.fullmatch(text):
        real = float(text)
        return real if math.isfinite(real) and repr(real) == text else text
    if text.startswith("[") and text.endswith("]"):
        try:
            items = json.loads(text)
        except (ValueError, RecursionError):
            return text
        if (
            isinstance(items, list)
            and all(i is None or isinstance(i, str) for i in items)
            and json.dumps(items, separators=(",", ":")) == text
        ):
            return [typed_tag(i) if isinstance(i, str) else None for i in items]
    return text


def _hex_id(value: Any, sizes: tuple[int, ...], name: str) -> bytes:
    if not isinstance(value, str) or len(value) not in sizes or not _HEX.fullmatch(value):
        lengths = " or ".join(str(size) for size in sizes)
        raise ItemError(f"{name} must be {lengths} hex characters")
    return bytes.fromhex(value)


def _micros(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ItemError(f"{name} must be a whole number of microseconds")
    return _bounded(value * 1000, name)


def _bounded(nanos: int, name: str) -> int:
    if nanos > _MAX_NS:
        raise ItemError(f"{name} is too large")
    return nanos


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ItemError(f"{name} must be a string")


def _endpoint(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError(f"{name} must be an object")
    return value


def _addresses(endpoint: dict[str, Any], prefix: str, out: list[tuple[str, Any]]) -> None:
    address = endpoint.get("ipv4") or endpoint.get("ipv6")
    if isinstance(address, str) and address:
        out.append((f"{prefix}.address", address))
    port = endpoint.get("port")
    if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        out.append((f"{prefix}.port", port))


def _annotations(value: Any, span: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise ItemError("annotations must be a list")
    for annotation in value:
        if not isinstance(annotation, dict) or not isinstance(annotation.get("value"), str):
            raise ItemError("an annotation must be an object with a string value")
        event = span.events.add()
        stamp = annotation.get("timestamp")
        if stamp is not None:
            event.time_unix_nano = _micros(stamp, "annotation timestamp")
        name, attributes = _annotation_event(annotation["value"])
        event.name = name
        event.attributes.extend(_key_values(list(attributes.items())))


def _annotation_event(text: str) -> tuple[str, dict[str, Any]]:
    """``{"exception": {...}}`` (an OTel span event, as the exporter writes it) → its name
    and attributes; any other value is an event of that name (``"ws"``, ``"cs"`` ...)."""
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return text, {}
        if isinstance(document, dict) and len(document) == 1:
            [(name, attributes)] = document.items()
            if isinstance(attributes, dict):
                return name, attributes
    return text, {}


def _key_values(pairs: list[tuple[str, Any]]) -> list[Any]:
    return [KeyValue(key=key, value=_any_value(value)) for key, value in pairs]


def _any_value(value: Any) -> Any:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return AnyValue(int_value=value)
        return AnyValue(string_value=str(value))
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, list):
        array = AnyValue()
        # Scalars only (as OTLP array attributes are): anything nested becomes JSON
        # text, so no annotation nests deeper than the attribute-depth bound.
        array.array_value.values.extend(
            _any_value(item if not isinstance(item, list | dict) else json.dumps(item))
            for item in value
        )
        return array
    if value is None:
        return AnyValue()
    return AnyValue(string_value=json.dumps(value, sort_keys=True))
