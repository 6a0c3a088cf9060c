"""OTLP spans → raw events (``llm_call``, ``tool_use``, ``http_request`` or ``span``).

One event per span: ``timestamp`` is the start time, ``event_id`` is trace id + span id
(so an exporter retry of the same span dedups in the store), ``message`` the span name,
``data.duration_ms`` / ``data.success`` / ``data.error_code`` from times and status.
Attributes are mapped by :mod:`.attributes` (GenAI semconv old and new, OpenInference,
OpenLLMetry, HTTP). Span events are not stored as rows; the ones that carry content
(old ``gen_ai.content.prompt`` events) or an exception feed the span's event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from stacklens.ingest.limits import DEFAULT_REQUEST_LIMITS, RequestLimits
from stacklens.ingest.steps import CHUNK, Steps, run_steps

from .attributes import (
    Entry,
    ItemError,
    Mapped,
    attach_resource,
    check_id,
    entries,
    plain,
    resource_context,
    scope_attributes,
)
from .content import PROTOBUF, media_type, parse_chunks
from .cost import check_entries
from .result import DecodeResult
from .semconv import AGENT_OPERATIONS, LLM_HINT_FIELDS, LLM_OPERATIONS, TOOL_OPERATIONS

__all__ = ["decode_traces", "request_steps", "span_event", "trace_steps"]

_STATUS_ERROR: Final = 2  # Status.StatusCode.STATUS_CODE_ERROR
_KIND_SERVER: Final = 2  # Span.SpanKind.SPAN_KIND_SERVER
_KIND_NAMES: Final = ("", "internal", "server", "client", "producer", "consumer")
_OI_LLM: Final = frozenset({"LLM", "EMBEDDING"})
_TRACELOOP_AGENT: Final = frozenset({"agent", "workflow"})


def decode_traces(
    body: bytes,
    content_type: str,
    *,
    namespace_as_stack: bool = True,
    limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
) -> DecodeResult:
    """An OTLP/HTTP traces body → raw events; raises OtlpDecodeError if unparsable,
    RequestLimitError past a per-request bound."""
    return run_steps(trace_steps(body, content_type, namespace_as_stack, limits))


def trace_steps(
    body: bytes, content_type: str, namespace_as_stack: bool, limits: RequestLimits
) -> Steps[DecodeResult]:
    """:func:`decode_traces`, pausing (``yield``) between chunks of spans."""
    check_each = media_type(content_type) == PROTOBUF  # JSON was checked before parsing
    return request_steps(
        parse_chunks("traces", body, content_type, limits),
        namespace_as_stack=namespace_as_stack,
        limits=limits if check_each else None,
    )


def request_steps(
    requests: Iterable[Any],
    *,
    namespace_as_stack: bool,
    limits: RequestLimits | None,
) -> Steps[DecodeResult]:
    """Parsed ``ExportTraceServiceRequest`` messages (``None`` between them where the
    caller may pause) → raw events. Other span formats (Zipkin) build these messages
    and come through here, so a span maps the same whatever carried it. ``limits``:
    check each span's attributes before mapping it (``None``: checked already)."""
    events: list[dict[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    index = 0
    for request in requests:
        yield
        if request is None:
            continue
        for resource_spans in request.resource_spans:
            context = resource_context(
                resource_spans.resource, namespace_as_stack=namespace_as_stack
            )
            for scope_spans in resource_spans.scope_spans:
                base = scope_attributes(context.attributes, scope_spans.scope)
                for span in scope_spans.spans:
                    attributes = entries(span.attributes)
                    if limits is not None:
                        check_entries("traces", attributes, index, limits)
                    try:
                        event = span_event(span, base, attributes)
                    except ItemError as err:
                        rejected.append((index, str(err)))
                    else:
                        events.append(attach_resource(event, context))
                    index += 1
                    if index % CHUNK == 0:
                        yield
    return DecodeResult(events, rejected)


def span_event(
    span: Any, base_attributes: dict[str, Any], attributes: list[Entry] | None = None
) -> dict[str, Any]:
    """Map one ``Span`` (resource/scope attributes given; its own, when already read
    out, as ``attributes``) to a raw event."""
    trace_id = check_id(span.trace_id, 16, "trace_id", zero_is_absent=False)
    span_id = check_id(span.span_id, 8, "span_id", zero_is_absent=False)
    if trace_id is None or span_id is None:
        raise ItemError("span has no trace_id" if trace_id is None else "span has no span_id")
    parent = check_id(span.parent_span_id, 8, "parent_span_id", zero_is_absent=True)
    start = span.start_time_unix_nano
    if not start:
        raise ItemError("span has no start_time_unix_nano")

    mapped = Mapped(dict(base_attributes))
    mapped.add_entries(entries(span.attributes) if attributes is None else attributes)
    data = mapped.data
    attrs = mapped.attrs
    if span.events:
        _span_events(span.events, mapped)

    end = span.end_time_unix_nano
    if end >= start:
        data["duration_ms"] = (end - start) / 1e6
    status = span.status
    failed = status.code == _STATUS_ERROR
    data["success"] = not failed
    if failed and "error_code" not in data and status.message:
        data["error_code"] = status.message
    kind = span.kind
    if 0 < kind < len(_KIND_NAMES):
        attrs["span.kind"] = _KIND_NAMES[kind]

    event: dict[str, Any] = {
        "event_id": trace_id + span_id,
        "timestamp": start,
        "event_type": _event_type(attrs, data, kind),
        "trace_id": trace_id,
        "span_id": span_id,
        "message": span.name,
    }
    if parent is not None:
        event["parent_span_id"] = parent
    mapped.finish(event)
    return event


def _event_type(attrs: dict[str, Any], data: dict[str, Any], kind: int) -> str:
    """Explicit operation/kind first, then what the attributes imply."""
    operation = attrs.get("gen_ai.operation.name")
    oi_kind = attrs.get("openinference.span.kind")
    tl_kind = attrs.get("traceloop.span.kind")
    if operation in AGENT_OPERATIONS or oi_kind == "AGENT" or tl_kind in _TRACELOOP_AGENT:
        # Agent spans often repeat their children's token totals: keeping them out of
        # llm_call avoids double counting in usage sums.
        if tl_kind == "agent" and "agent" not in data:
            name = attrs.get("traceloop.entity.name")
            if isinstance(name, str) and name:
                data["agent"] = name
        return "span"
    if operation in TOOL_OPERATIONS or oi_kind == "TOOL" or tl_kind == "tool":
        if tl_kind == "tool" and "tool" not in data:
            name = attrs.get("traceloop.entity.name")
            if isinstance(name, str) and name:
                data["tool"] = name
        return "tool_use"
    if operation in LLM_OPERATIONS or oi_kind in _OI_LLM:
        return "llm_call"
    if oi_kind is None and operation is None and not LLM_HINT_FIELDS.isdisjoint(data):
        return "llm_call"
    if "tool" in data and operation is None and oi_kind is None:
        return "tool_use"
    if kind == _KIND_SERVER and "method" in data:
        return "http_request"
    return "span"


def _span_events(span_events: Any, mapped: Mapped) -> None:
    """Content carried in span events (OpenLIT / older semconv) and exceptions."""
    for span_event in span_events:
        name = span_event.name
        if name == "exception":
            for kv in span_event.attributes:
                key = kv.key
                if key == "exception.type":
                    value = plain(kv.value)
                    if isinstance(value, str) and value:
                        mapped.set("error_code", 1, value, key, value)
                elif key == "exception.message":
                    mapped.attrs[key] = plain(kv.value)
        elif name.startswith("gen_ai."):
            # e.g. gen_ai.content.prompt {gen_ai.prompt: ...}: only the content is kept.
            scratch = Mapped({})
            scratch.add(span_event.attributes)
            mapped.content.extend(scratch.content)
