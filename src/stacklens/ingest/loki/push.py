"""Loki push bodies (``POST /loki/api/v1/push``) → raw ``log`` events.

Formats, as Loki itself decides: ``application/json`` is JSON, anything else
(``application/x-protobuf``, or no Content-Type) is a snappy-compressed
``logproto.PushRequest``. JSON streams are ``{"stream": {labels}, "values": [[ns,
line, {structured metadata}?]]}``; the legacy ``{"labels": "{...}", "entries":
[{"ts": RFC3339, "line": ...}]}`` shape is accepted too.

Mapping (one event per entry, in flattened order across streams for ``rejected``):
``timestamp`` the entry time (ns); ``message`` the line; ``level``, ``service``,
``stack_name``, ``trace_id``, ``span_id``, ``user_id``, ``session_id`` from stream
labels or structured metadata (metadata wins: it is per line). Names are the ones
Promtail/Alloy pipelines and Loki's OTLP ingest produce (``level``,
``detected_level``, ``service_name``, ``trace_id`` ...). A label used for a field is
not repeated in ``attributes``, except ``app`` which users also select on; every other
label and metadata pair is an attribute. Without a level label the line is sniffed
(JSON ``"level"`` or logfmt ``level=``) because that is where structlog/pino put it.
A ``stack_name``/``stack`` value that is not a valid stack name is left as an attribute
so the API key decides. ``event_id`` hashes labels, time, line and metadata: Loki
treats the same triple as a duplicate, and so do we.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final, NamedTuple

import msgspec
from google.protobuf.message import DecodeError

from stacklens.ingest.limits import (
    DEFAULT_REQUEST_LIMITS,
    RequestLimits,
    check_attributes,
    check_items,
)
from stacklens.ingest.steps import CHUNK, Steps, run_steps
from stacklens.schema import STACK_NAME_RE, EventError, parse_timestamp

from .encoding import DEFAULT_MAX_BYTES, LokiDecodeError, decode_content, unsnappy
from .labels import LabelError, format_labels, parse_labels
from .proto import PushRequest

__all__ = ["DecodeResult", "LokiDecodeError", "decode_push", "entry_event", "push_steps"]


class DecodeResult(NamedTuple):
    """Raw events, and ``(entry index, reason)`` for entries that could not be mapped."""

    events: list[dict[str, Any]]
    rejected: list[tuple[int, str]]


# label / metadata name -> (event field, rank); higher rank wins.
_FIELDS: Final[dict[str, tuple[str, int]]] = {
    "stack_name": ("stack_name", 2),
    "stack": ("stack_name", 1),
    "service_name": ("service", 3),
    "service": ("service", 2),
    "app": ("service", 1),
    "level": ("level", 4),
    "severity_text": ("level", 3),
    "severity": ("level", 3),
    "lvl": ("level", 2),
    "detected_level": ("level", 1),
    "trace_id": ("trace_id", 2),
    "traceID": ("trace_id", 1),
    "traceId": ("trace_id", 1),
    "span_id": ("span_id", 2),
    "spanID": ("span_id", 1),
    "spanId": ("span_id", 1),
    "user_id": ("user_id", 2),
    "enduser_id": ("user_id", 1),
    "session_id": ("session_id", 2),
}
_KEEP_AS_ATTRIBUTE: Final = frozenset({"app"})
_METADATA_RANK: Final = 10  # per-line metadata beats stream labels
_HEX32: Final = re.compile(r"[0-9a-f]{32}")
_HEX16: Final = re.compile(r"[0-9a-f]{16}")
_LOGFMT_LEVEL: Final = re.compile(r'(?:^|\s)(?:level|lvl)="?([A-Za-z]+)')
_JSON_LEVEL_KEYS: Final = ("level", "severity", "lvl", "levelname")
_SNIFF_LIMIT: Final = 64 * 1024


def _valid(field: str, value: str) -> str | None:
    if field == "level":
        return value.lower() or None
    if field == "stack_name":
        lowered = value.lower()
        return lowered if STACK_NAME_RE.fullmatch(lowered) else None
    if field == "trace_id":
        lowered = value.lower()
        return lowered if _HEX32.fullmatch(lowered) and lowered.strip("0") else None
    if field == "span_id":
        lowered = value.lower()
        return lowered if _HEX16.fullmatch(lowered) and lowered.strip("0") else None
    return value or None


def _sniff_level(line: str) -> str | None:
    if len(line) > _SNIFF_LIMIT:
        return None
    if line.startswith("{"):
        try:
            document = msgspec.json.decode(line)
        except (msgspec.DecodeError, ValueError, RecursionError):
            return None
        if isinstance(document, dict):
            for key in _JSON_LEVEL_KEYS:
                value = document.get(key)
                if isinstance(value, str) and value:
                    return value.lower()
        return None
    match = _LOGFMT_LEVEL.search(line)
    return match.group(1).lower() if match else None


def entry_event(
    labels: dict[str, str], labels_key: bytes, ts: int, line: str, metadata: dict[str, str]
) -> dict[str, Any]:
    """One Loki entry (with its stream's labels) → a raw event."""
    attributes: dict[str, Any] = dict(labels)
    if metadata:
        attributes.update(metadata)
    chosen: dict[str, tuple[int, str, str]] = {}  # field -> (rank, source key, value)
    for source, bonus in ((labels, 0), (metadata, _METADATA_RANK)):
        for key, value in source.items():
            rule = _FIELDS.get(key)
            if rule is None:
                continue
            field, rank = rule
            valid = _valid(field, value)
            if valid is None:
                continue
            current = chosen.get(field)
            if current is None or rank + bonus > current[0]:
                chosen[field] = (rank + bonus, key, valid)

    digest = hashlib.blake2b(labels_key, digest_size=16)
    digest.update(b"\x00%d\x00" % ts)
    digest.update(line.encode("utf-8", "surrogatepass"))
    for key in sorted(metadata):
        digest.update(f"\x00{key}={metadata[key]}".encode("utf-8", "surrogatepass"))
    event: dict[str, Any] = {
        "event_id": digest.hexdigest(),
        "timestamp": ts,
        "event_type": "log",
        "message": line,
    }
    for field, (_, key, value) in chosen.items():
        event[field] = value
        if key not in _KEEP_AS_ATTRIBUTE:
            attributes.pop(key, None)
    if "level" not in event:
        level = _sniff_level(line)
        if level is not None:
            event["level"] = level
    event["attributes"] = attributes
    return event


def decode_push(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
) -> DecodeResult:
    """A Loki push body → raw events; raises :class:`LokiDecodeError` if unparsable,
    ``RequestLimitError`` past a per-request bound."""
    return run_steps(push_steps(body, content_type, content_encoding, max_bytes, limits))


def push_steps(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    max_bytes: int,
    limits: RequestLimits,
) -> Steps[DecodeResult]:
    """:func:`decode_push`, pausing (``yield``) between chunks of entries."""
    raw = decode_content(body, content_encoding, max_bytes)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        return (yield from _decode_json(raw, limits))
    return (yield from _decode_protobuf(unsnappy(raw, max_bytes), limits))


# ------------------------------------------------------------------------ protobuf


def _text(raw: bytes) -> str:
    # Go clients do not guarantee UTF-8 (see proto.py): replace, never fail the batch.
    return raw.decode("utf-8", "replace")


def _decode_protobuf(raw: bytes, limits: RequestLimits) -> Steps[DecodeResult]:
    request = PushRequest()
    try:
        request.ParseFromString(raw)
    except (DecodeError, ValueError, RecursionError) as err:
        raise LokiDecodeError(f"invalid Loki protobuf body: {err}"[:300]) from None
    check_items(sum(len(stream.entries) for stream in request.streams), limits, "entries")
    events: list[dict[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    index = 0
    for stream in request.streams:
        labels_raw = stream.labels
        try:
            labels = parse_labels(_text(labels_raw))
        except LabelError as err:
            for _ in stream.entries:
                rejected.append((index, f"invalid stream labels: {err}"))
                index += 1
            continue
        for entry in stream.entries:
            check_attributes(len(labels) + len(entry.structuredMetadata), limits, index, "entry")
            if index % CHUNK == CHUNK - 1:
                yield
            stamp = entry.timestamp
            ts = stamp.seconds * 1_000_000_000 + stamp.nanos
            if ts <= 0:
                rejected.append((index, "entry has no timestamp"))
            else:
                metadata = {_text(p.name): _text(p.value) for p in entry.structuredMetadata}
                events.append(entry_event(labels, labels_raw, ts, _text(entry.line), metadata))
            index += 1
    return DecodeResult(events, rejected)


# ---------------------------------------------------------------------------- JSON


class _EntryError(ValueError):
    pass


def _json_labels(stream: dict[str, Any]) -> dict[str, str]:
    if "stream" in stream:
        labels = stream["stream"]
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise _EntryError("stream must be an object of string label values")
        return labels
    text = stream.get("labels")
    if isinstance(text, str):
        try:
            return parse_labels(text)
        except LabelError as err:
            raise _EntryError(f"invalid stream labels: {err}") from None
    raise _EntryError("stream has no labels")


def _json_ts(value: Any) -> int:
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _EntryError("timestamp must be a string of epoch nanoseconds")


def _json_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _EntryError("structured metadata must be an object")
    return {
        k: v if isinstance(v, str) else msgspec.json.encode(v).decode() for k, v in value.items()
    }


def _json_entry(item: Any, legacy: bool) -> tuple[int, str, dict[str, str]]:
    if legacy:
        if not isinstance(item, dict):
            raise _EntryError("entry must be an object")
        try:
            ts = parse_timestamp(item.get("ts"))
        except EventError as err:
            raise _EntryError(str(err)) from None
        line, metadata = item.get("line"), item.get("structuredMetadata")
    else:
        if not isinstance(item, list) or len(item) not in (2, 3):
            raise _EntryError("value must be [timestamp, line] or [timestamp, line, metadata]")
        ts, line = _json_ts(item[0]), item[1]
        metadata = item[2] if len(item) == 3 else None
    if not isinstance(line, str):
        raise _EntryError("line must be a string")
    if ts <= 0:
        raise _EntryError("entry has no timestamp")
    return ts, line, _json_metadata(metadata)


def _decode_json(raw: bytes, limits: RequestLimits) -> Steps[DecodeResult]:
    try:
        document = msgspec.json.decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError) as err:
        raise LokiDecodeError(f"invalid JSON: {err}"[:300]) from None
    streams = document.get("streams") if isinstance(document, dict) else None
    if not isinstance(streams, list):
        raise LokiDecodeError('a Loki JSON push body is {"streams": [...]}')
    check_items(sum(_entry_count(stream) for stream in streams), limits, "entries")
    events: list[dict[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    index = 0
    for stream in streams:
        if not isinstance(stream, dict):
            raise LokiDecodeError("each stream must be an object")
        legacy = "values" not in stream and "entries" in stream
        items = stream.get("entries" if legacy else "values")
        if not isinstance(items, list):
            raise LokiDecodeError("a stream needs a 'values' list")
        labels: dict[str, str] | None = None
        labels_key, stream_error = b"", ""
        try:
            labels = _json_labels(stream)
        except _EntryError as err:
            stream_error = str(err)
        else:
            labels_key = format_labels(labels).encode("utf-8", "surrogatepass")
        for item in items:
            if index % CHUNK == CHUNK - 1:
                yield
            try:
                if labels is None:
                    raise _EntryError(stream_error)
                ts, line, metadata = _json_entry(item, legacy)
            except _EntryError as err:
                rejected.append((index, str(err)))
            else:
                check_attributes(len(labels) + len(metadata), limits, index, "entry")
                events.append(entry_event(labels, labels_key, ts, line, metadata))
            index += 1
    return DecodeResult(events, rejected)


def _entry_count(stream: Any) -> int:
    if not isinstance(stream, dict):
        return 0
    items = stream.get("values", stream.get("entries"))
    return len(items) if isinstance(items, list) else 0
