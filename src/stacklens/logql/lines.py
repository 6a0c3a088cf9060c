"""What a stored event is to LogQL: its labels and its log line.

- **Line.** A ``log`` event's line is its ``message``, byte for byte what was pushed
  (Promtail's JSON from structlog/pino stays JSON, so ``| json`` reads it). Every other
  event (an ``llm_call``, a ``tool_use``, an ``error`` ...) has no line of its own: its
  line is a JSON object of its non-empty fields (``event_type``, ``service``,
  ``duration_ms``, ``status_code``, ``model`` ...), then its attributes under their own
  keys where they do not collide, so ``{service="gateway"} | json | duration_ms > 5000``
  finds slow calls whatever door they came in by.
- **Stream labels.** ``stack_name``, ``event_type``, ``service``, ``level`` (when set),
  and the Promtail/Kubernetes labels a Loki push carried that stayed in the event's
  attributes (:data:`PUSH_LABELS`: ``app``, ``namespace``, ``pod``, ``container`` ...).
- **Structured metadata.** ``trace_id`` and ``user_id`` when present: a selector and a
  label filter see them, but they do not split streams or series (one series per user
  or trace would make every plain ``rate(...)`` hit the series bound).

A selector may name any of these, ``service_name`` (the service, as Loki's OTLP ingest
names it), any other event column (``session_id``, ``model``, ``agent`` ...) or any
attribute key; a label a row lacks is the empty string, as in Loki.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from stacklens.store.columns import EVENT_COLUMNS

__all__ = [
    "COLUMN_LABELS",
    "LINE_COLUMNS",
    "METADATA_LABELS",
    "PUSH_LABELS",
    "STREAM_COLUMNS",
    "event_labels",
    "event_line",
    "event_metadata",
    "label_column",
]

#: Columns that are stream labels.
STREAM_COLUMNS: Final = ("stack_name", "event_type", "service", "level")
#: Columns that are structured metadata (labels when present).
METADATA_LABELS: Final = ("trace_id", "user_id")
#: Attribute keys that are stream labels (what Promtail, Alloy and the Kubernetes
#: discovery attach); other attribute keys are selectable but do not split streams.
PUSH_LABELS: Final = (
    "app",
    "namespace",
    "pod",
    "container",
    "job",
    "instance",
    "host",
    "node",
    "cluster",
    "env",
    "environment",
    "component",
    "filename",
)
#: Columns a selector can name directly (strings only: a label is text).
COLUMN_LABELS: Final = frozenset(c.name for c in EVENT_COLUMNS if c.kind == "string") - {
    "attributes",
    "event_id",
}
_ALIASES: Final = {"service_name": "service"}
#: Columns read for each row, in order (``ts`` as epoch ns).
LINE_COLUMNS: Final = tuple(c.name for c in EVENT_COLUMNS if c.name != "received_ns")
# Labels already (a `| json` would only repeat them as `*_extracted`).
_NOT_IN_LINE: Final = frozenset(
    {"event_id", "ts", "attributes", "received_ns", *STREAM_COLUMNS, *METADATA_LABELS}
)
_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def label_column(name: str) -> str | None:
    """The event column a selector label names, or ``None`` (an attribute key)."""
    name = _ALIASES.get(name, name)
    return name if name in COLUMN_LABELS else None


def _attributes(row: dict[str, Any]) -> dict[str, Any]:
    raw = row.get("attributes")
    if not raw or raw == "{}":
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = _decoder.decode(raw)
    except (msgspec.DecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def event_labels(row: dict[str, Any]) -> dict[str, str]:
    """The stream labels and structured metadata of one stored event."""
    labels: dict[str, str] = {}
    for name in STREAM_COLUMNS:
        value = row.get(name)
        if value:
            labels[name] = str(value)
    attributes = _attributes(row)
    for name in PUSH_LABELS:
        value = attributes.get(name)
        # Spelled as the store's JSON text extraction spells it (the counting path).
        if isinstance(value, bool):
            labels[name] = "true" if value else "false"
        elif isinstance(value, (int, float)):
            labels[name] = _encoder.encode(value).decode()
        elif isinstance(value, str) and value:
            labels[name] = value
    return labels


def event_metadata(row: dict[str, Any]) -> dict[str, str]:
    """The structured metadata of one stored event (``trace_id``, ``user_id``)."""
    return {name: str(row[name]) for name in METADATA_LABELS if row.get(name)}


def event_line(row: dict[str, Any]) -> str:
    """The log line of one stored event (see the module docstring)."""
    message = row.get("message")
    if row.get("event_type") == "log" and message is not None:
        return str(message)
    document: dict[str, Any] = {}
    for name in LINE_COLUMNS:
        if name in _NOT_IN_LINE:
            continue
        value = row.get(name)
        if value is not None:
            document[name] = value
    for key, value in _attributes(row).items():
        document.setdefault(key, value)
    return _encoder.encode(document).decode()
