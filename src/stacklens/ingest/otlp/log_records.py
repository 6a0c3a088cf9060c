"""OTLP log records → raw ``log`` events.

Every record becomes ``event_type: "log"``, errors included: the level says "error",
which is what the error-log viewer filters on (a separate ``error`` type would split
one stream of logs in two). ``level`` is ``severity_text`` lowercased ("WARNING" →
"warning", the Python/structlog spelling the seeds use), else the OTel severity-number
range name. The body is the ``message`` (structured bodies as JSON), except for GenAI
events (``gen_ai.user.message``, ``gen_ai.choice`` ...) whose body *is* prompt or
response content: it goes to ``data.content`` for the privacy engine and the message
is the event name.

``event_id`` is a hash of the resource and the serialized record, so an exporter retry
of the same batch dedups.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from stacklens.ingest.limits import DEFAULT_REQUEST_LIMITS, RequestLimits
from stacklens.ingest.steps import CHUNK, Steps, run_steps

from .attributes import (
    ItemError,
    Mapped,
    as_text,
    attach_resource,
    check_id,
    plain,
    resource_context,
    scope_attributes,
)
from .content import PROTOBUF, media_type, parse_chunks
from .cost import check_message_item
from .result import DecodeResult
from .semconv import to_str

__all__ = ["decode_logs", "log_event", "log_steps", "severity_level"]

#: OTel log data model: SeverityNumber 1-4 TRACE, 5-8 DEBUG, ... 21-24 FATAL.
_RANGES: Final = ("trace", "debug", "info", "warn", "error", "fatal")


def severity_level(number: int, text: str) -> str | None:
    """``severity_text`` lowercased, else the name of the severity-number range."""
    if text:
        return text.lower()
    if 1 <= number <= 24:
        return _RANGES[(number - 1) // 4]
    return None


def decode_logs(
    body: bytes,
    content_type: str,
    *,
    namespace_as_stack: bool = True,
    limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
) -> DecodeResult:
    """An OTLP/HTTP logs body → raw events; raises OtlpDecodeError if unparsable,
    RequestLimitError past a per-request bound."""
    return run_steps(log_steps(body, content_type, namespace_as_stack, limits))


def log_steps(
    body: bytes, content_type: str, namespace_as_stack: bool, limits: RequestLimits
) -> Steps[DecodeResult]:
    """:func:`decode_logs`, pausing (``yield``) between chunks of records."""
    check_each = media_type(content_type) == PROTOBUF  # JSON was checked before parsing
    events: list[dict[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    index = 0
    for request in parse_chunks("logs", body, content_type, limits):
        yield
        if request is None:
            continue
        for resource_logs in request.resource_logs:
            context = resource_context(
                resource_logs.resource, namespace_as_stack=namespace_as_stack
            )
            resource_key = resource_logs.resource.SerializeToString(deterministic=True)
            for scope_logs in resource_logs.scope_logs:
                base = scope_attributes(context.attributes, scope_logs.scope)
                for record in scope_logs.log_records:
                    if check_each:
                        check_message_item("logs", record, index, limits, has_body=True)
                    try:
                        event = log_event(record, base, resource_key)
                    except ItemError as err:
                        rejected.append((index, str(err)))
                    else:
                        events.append(attach_resource(event, context))
                    index += 1
                    if index % CHUNK == 0:
                        yield
    return DecodeResult(events, rejected)


def log_event(record: Any, base_attributes: dict[str, Any], resource_key: bytes) -> dict[str, Any]:
    """Map one ``LogRecord`` to a raw event."""
    timestamp = record.time_unix_nano or record.observed_time_unix_nano
    if not timestamp:
        raise ItemError("log record has no time")
    # In logs an all-zero id means "no trace context", not an error.
    trace_id = check_id(record.trace_id, 16, "trace_id", zero_is_absent=True)
    span_id = check_id(record.span_id, 8, "span_id", zero_is_absent=True)

    mapped = Mapped(dict(base_attributes))
    mapped.add(record.attributes)
    attrs = mapped.attrs
    event_name = record.event_name or attrs.get("event.name")
    body = plain(record.body) if record.HasField("body") else None

    digest = hashlib.blake2b(resource_key, digest_size=16)
    digest.update(record.SerializeToString(deterministic=True))
    event: dict[str, Any] = {
        "event_id": digest.hexdigest(),
        "timestamp": timestamp,
        "event_type": "log",
    }
    if isinstance(event_name, str) and event_name.startswith("gen_ai."):
        if body is not None:
            mapped.content.append(as_text(body))
        event["message"] = event_name
        if record.event_name:
            attrs["event.name"] = event_name
    else:
        event["message"] = "" if body is None else as_text(body)
        if record.event_name:
            attrs["event.name"] = record.event_name
    level = severity_level(record.severity_number, record.severity_text)
    if level is not None:
        event["level"] = level
    if trace_id is not None:
        event["trace_id"] = trace_id
    if span_id is not None:
        event["span_id"] = span_id
    exception_type = attrs.pop("exception.type", None)
    if exception_type is not None:
        # set() keeps it as an attribute when error.type already filled error_code.
        mapped.set("error_code", 1, to_str(exception_type), "exception.type", exception_type)
    mapped.finish(event)
    return event
