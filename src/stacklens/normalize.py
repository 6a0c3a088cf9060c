"""Normalization: one raw event → its canonical form → its row.

Every protocol the hub speaks (native JSON, OTLP, Loki push) decodes into *raw events*:
plain dicts in the native contract shape (seed 000 §4.1 plus DESIGN.md).
:func:`normalize` turns one raw event into a *canonical event* (aliases resolved,
timestamp in epoch nanoseconds, types checked), and :func:`to_row` a canonical event
into a flat :class:`~stacklens.event_rows.EventRow` — the shape the spool and the store
hold.

The privacy engine runs between the two, on the canonical dict: ``normalize`` →
``privacy`` → ``to_row``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from stacklens.event_checks import (
    DATA_CHECKS,
    as_str,
    check_data,
    count_leaves,
    flatten_attributes,
    parse_timestamp,
)
from stacklens.event_fields import (
    CAMEL_ALIASES,
    CAMEL_DATA_ALIASES,
    DATA_FIELDS,
    EVENT_TYPES,
    STACK_NAME_RE,
    STRING_FIELDS,
)
from stacklens.event_rows import DEFAULT_LIMITS, EventError, EventRow, Limits

__all__ = ["normalize", "to_row"]

_attributes_encoder = msgspec.json.Encoder(order="sorted")

#: A native body that is in fact an OTLP/JSON export: say where it belongs (its first
#: key names it), rather than "event_type is required".
_OTLP_HINTS: Final = {
    key: f"this is an OTLP/JSON export ({key}), not a native event: post it to {path}"
    for keys, path in (
        (("resourceSpans", "resource_spans"), "/v1/traces"),
        (("resourceLogs", "resource_logs"), "/v1/logs"),
        (("resourceMetrics", "resource_metrics"), "/v1/metrics"),
    )
    for key in keys
}

_TOP, _DATA = 0, 1
_META_FIELDS: Final = ("event_id", "timestamp", "stack_name", "event_type", "attributes", "data")
#: Where each raw key goes: (section, canonical name). Built once; one dict lookup a key.
_ROUTES: Final[dict[str, tuple[int, str]]] = {
    **{name: (_TOP, name) for name in (*_META_FIELDS, *STRING_FIELDS)},
    **{camel: (_TOP, name) for camel, name in CAMEL_ALIASES.items()},
    # The hook's flat style (role, model, tool... at the top level) belongs in data.
    **{name: (_DATA, name) for name in DATA_CHECKS},
    **{camel: (_DATA, name) for camel, name in CAMEL_DATA_ALIASES.items()},
}


#: Keys whose raw name is their canonical top-level name: an event with only these keys
#: (the native contract as documented) needs no routing, its dict is read as it is.
_PLAIN_TOP: Final = frozenset(
    name for name, (section, to) in _ROUTES.items() if section == _TOP and name == to
)
#: ``data`` keys that do not become attributes (their own columns; raw args, hashed).
_COLUMN_DATA: Final = DATA_FIELDS | {"args"}


def _route(raw: Mapping[str, Any], extra: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each raw key to its section and canonical name (the first of a name and its
    aliases wins); unknown keys to ``extra``."""
    top: dict[str, Any] = {}
    data: dict[str, Any] = {}
    routes = _ROUTES
    for key, value in raw.items():
        route = routes.get(key)
        if route is None:
            if value is not None:
                extra[key] = value  # unknown top-level keys are kept, never refused
        elif route[0] == _TOP:
            top.setdefault(route[1], value)
        else:
            data.setdefault(route[1], value)
    data.update(_nested_data(top.get("data")))  # the nested object wins over flat keys
    return top, data


def _nested_data(raw_data: Any) -> Mapping[str, Any]:
    """The event's ``data`` object with camelCase names resolved (itself when none is
    camelCase: only read afterwards, checked into a new dict)."""
    if raw_data is None:
        return {}
    if type(raw_data) is not dict and not isinstance(raw_data, Mapping):
        raise EventError("data must be an object")
    if raw_data.keys().isdisjoint(CAMEL_DATA_ALIASES):
        return raw_data
    return {CAMEL_DATA_ALIASES.get(k, k): v for k, v in raw_data.items()}


def normalize(
    raw: object,
    *,
    default_stack: str | None,
    now_ns: int,
    new_id: Any,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Check one raw event and return its canonical form.

    ``default_stack`` fills a missing ``stack_name`` (from the key or ``X-Stack-Name``);
    ``new_id`` makes an ``event_id`` when the client sent none. Raises
    :class:`EventError` with a client-facing reason.
    """
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise EventError("an event must be a JSON object")
    top: Mapping[str, Any]
    data: Mapping[str, Any]
    extra: dict[str, Any] = {}
    if raw.keys() <= _PLAIN_TOP:
        # Every key already canonical and top-level (no alias, no flat data key, no
        # unknown key): routing would copy the dict key by key into an equal one.
        top = raw
        data = _nested_data(raw.get("data"))
    else:
        top, data = _route(raw, extra)

    event_type = top.get("event_type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        if event_type is None:
            otlp = next((_OTLP_HINTS[k] for k in extra if k in _OTLP_HINTS), None)
            raise EventError(otlp or "event_type is required")
        raise EventError(f"event_type {str(event_type)[:40]!r} is not one of {sorted(EVENT_TYPES)}")

    stack = top.get("stack_name") or default_stack
    if not isinstance(stack, str) or not STACK_NAME_RE.fullmatch(stack):
        if stack is None:
            raise EventError("stack_name is required (in the event, the key or X-Stack-Name)")
        raise EventError("stack_name must match [a-z0-9][a-z0-9_.-]{0,62}")

    ts = parse_timestamp(top.get("timestamp"))
    if ts > now_ns + limits.max_future_ns:
        raise EventError("timestamp is more than 24 hours in the future")
    too_old = limits.age_error(stack, ts, now_ns)
    if too_old is not None:
        raise EventError(too_old)

    event_id = top.get("event_id")
    if event_id is None or event_id == "":
        event_id = new_id()
    elif not isinstance(event_id, str) or len(event_id) > 128:
        raise EventError("event_id must be a string of at most 128 characters")

    canonical: dict[str, Any] = {
        "event_id": event_id,
        "timestamp": ts,
        "stack_name": stack,
        "event_type": event_type,
    }
    max_string = limits.max_string_bytes
    for name in STRING_FIELDS:
        value = top.get(name)
        if value is not None:
            limit = limits.max_message_bytes if name == "message" else max_string
            if type(value) is str and len(value) <= limit:
                canonical[name] = value  # what as_str returns for a string in bounds
            else:
                canonical[name] = as_str(name, value, limit)

    attributes: dict[str, Any] = {}
    raw_attributes = top.get("attributes")
    if raw_attributes is not None:
        if not isinstance(raw_attributes, Mapping):
            raise EventError("attributes must be an object")
        flatten_attributes(raw_attributes, attributes, "", limits)
    if extra:
        flatten_attributes(extra, attributes, "", limits)
    checked = check_data(data, limits) if data else {}
    # Unknown data keys end up in attributes (to_row): the same limits apply to them.
    if not checked.keys() <= _COLUMN_DATA:
        stored = len(attributes)
        for key, value in checked.items():
            if key not in _COLUMN_DATA:
                stored += count_leaves(f"data.{key}", value, limits)
                if stored > limits.max_attributes:
                    raise EventError(f"more than {limits.max_attributes} attributes")
    canonical["data"] = checked
    canonical["attributes"] = attributes
    return canonical


def to_row(event: Mapping[str, Any], received_ns: int) -> EventRow:
    """Flatten a canonical (and already privacy-checked) event into a row."""
    data = event.get("data") or {}
    attributes = event.get("attributes") or {}
    columns: Mapping[str, Any]
    if data.keys() <= DATA_FIELDS:
        columns = data  # every key a column (the common case): no copy, no loop
    else:
        attributes = dict(attributes)
        columns = {}
        for key, value in data.items():
            if key in DATA_FIELDS:
                columns[key] = value
            elif key != "args":  # raw args never reach a row; privacy leaves args_hash
                attributes[key] = value
    get = event.get
    # Positional up to ``message`` (checked against the struct below): keyword matching
    # of twelve names cost as much as the rest of the row.
    return EventRow(
        event["event_id"],
        event["timestamp"],
        event["stack_name"],
        event["event_type"],
        get("session_id"),
        get("trace_id"),
        get("span_id"),
        get("parent_span_id"),
        get("user_id"),
        get("service"),
        get("level"),
        get("message"),
        attributes=_attributes_encoder.encode(attributes).decode() if attributes else "{}",
        received_ns=received_ns,
        **columns,
    )


if EventRow.__struct_fields__[:12] != (
    "event_id",
    "ts",
    "stack_name",
    "event_type",
    *STRING_FIELDS,
):
    raise RuntimeError("to_row passes EventRow's leading fields by position: keep them in order")
