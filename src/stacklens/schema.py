"""The event contract (v1) and its normalization.

Every protocol the hub speaks (native JSON, OTLP, Loki push) decodes into *raw events*:
plain dicts in the native contract shape (seed 000 §4.1 plus DESIGN.md). This module
turns one raw event into a *canonical event* (aliases resolved, timestamp in epoch
nanoseconds, types checked), and a canonical event into a flat :class:`EventRow` — the
shape the spool and the store hold.

The privacy engine runs between the two, on the canonical dict: ``normalize`` →
``privacy`` → ``to_row``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec

__all__ = [
    "CAMEL_ALIASES",
    "DATA_FIELDS",
    "EVENT_TYPES",
    "INT_DATA_FIELDS",
    "STACK_NAME_RE",
    "EventError",
    "EventRow",
    "Limits",
    "MaxAge",
    "MetricRow",
    "normalize",
    "parse_timestamp",
    "to_row",
]

EVENT_TYPES: Final = frozenset(
    {
        "session_start",
        "session_end",
        "message",
        "tool_use",
        "llm_call",
        "error",
        "log",
        "http_request",
        "heartbeat",
        "feedback",
        "span",
    }
)

STACK_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")

#: Top-level string fields of the contract (besides ids, type and stack).
STRING_FIELDS: Final = (
    "session_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "user_id",
    "service",
    "level",
    "message",
)

INT_DATA_FIELDS: Final = (
    "tokens_in",
    "tokens_out",
    "tokens_cache_read",
    "tokens_cache_write",
    "tokens_reasoning",
    "content_length",
    "word_count",
    "status_code",
)
FLOAT_DATA_FIELDS: Final = ("cost_usd", "duration_ms", "score")
STR_DATA_FIELDS: Final = (
    "role",
    "model",
    "provider",
    "agent",
    "tool",
    "error_code",
    "method",
    "path",
    "content_hash",
    "args_hash",
    "comment",
    # Raw inputs the privacy engine transforms before storage; after privacy they
    # hold the transformed value (pattern, command names, sanitized URL, or content
    # only where a stack's policy stores it).
    "content",
    "command",
    "file_path",
    "url",
)
BOOL_DATA_FIELDS: Final = ("success",)
#: Keys of ``data`` with a column of their own; any other key becomes an attribute.
DATA_FIELDS: Final = frozenset(
    INT_DATA_FIELDS + FLOAT_DATA_FIELDS + STR_DATA_FIELDS + BOOL_DATA_FIELDS
)

#: camelCase names the JavaScript hook of seed 000 §3.2.1 sends, and where they go.
CAMEL_ALIASES: Final[Mapping[str, str]] = {
    "type": "event_type",
    "eventType": "event_type",
    "eventId": "event_id",
    "stackName": "stack_name",
    "sessionId": "session_id",
    "traceId": "trace_id",
    "spanId": "span_id",
    "parentSpanId": "parent_span_id",
    "userId": "user_id",
}
#: camelCase keys that belong in ``data`` (the hook puts them at the top level).
CAMEL_DATA_ALIASES: Final[Mapping[str, str]] = {
    "contentHash": "content_hash",
    "contentLength": "content_length",
    "argsHash": "args_hash",
    "duration": "duration_ms",
    "durationMs": "duration_ms",
    "tokensIn": "tokens_in",
    "tokensOut": "tokens_out",
    "costUsd": "cost_usd",
    "wordCount": "word_count",
    "errorCode": "error_code",
    "statusCode": "status_code",
    "filePath": "file_path",
}


class MaxAge(msgspec.Struct, frozen=True):
    """How old an event may be: the events retention, as nanoseconds and as the
    setting's text for the reason (``7d``)."""

    ns: int
    text: str


class Limits(msgspec.Struct, frozen=True):
    """Bounds on one event; an event past one is rejected with the reason."""

    max_message_bytes: int = 256 * 1024
    max_string_bytes: int = 16 * 1024
    max_content_bytes: int = 1024 * 1024
    max_attributes: int = 256
    #: Events further in the future than this are refused (a client clock gone wrong).
    max_future_ns: int = 24 * 3600 * 10**9
    #: Events older than events retention are refused: their day is being dropped, or
    #: already is (None: any age). ``max_age_by_stack``: a stack's own retention.
    max_age: MaxAge | None = None
    max_age_by_stack: dict[str, MaxAge] = msgspec.field(default_factory=dict)

    def age_error(self, stack: str, ts_ns: int, now_ns: int) -> str | None:
        """The reason an event of ``stack`` at ``ts_ns`` is too old, else None (for
        every door: native events, OTLP spans, logs and metric points)."""
        age = self.max_age_by_stack.get(stack, self.max_age)
        if age is not None and ts_ns < now_ns - age.ns:
            return f"older than events retention ({age.text})"
        return None


DEFAULT_LIMITS: Final = Limits()


class EventError(ValueError):
    """One event broke the contract; ``str(err)`` is the reason given to the client."""


class EventRow(msgspec.Struct, omit_defaults=True):
    """One row of the wide ``events`` table; the unit the spool and store hold."""

    event_id: str
    ts: int  # epoch nanoseconds
    stack_name: str
    event_type: str
    session_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    user_id: str | None = None
    service: str | None = None
    level: str | None = None
    message: str | None = None
    role: str | None = None
    model: str | None = None
    provider: str | None = None
    agent: str | None = None
    tool: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cache_read: int | None = None
    tokens_cache_write: int | None = None
    tokens_reasoning: int | None = None
    cost_usd: float | None = None
    duration_ms: float | None = None
    success: bool | None = None
    error_code: str | None = None
    status_code: int | None = None
    method: str | None = None
    path: str | None = None
    content_hash: str | None = None
    content_length: int | None = None
    word_count: int | None = None
    score: float | None = None
    comment: str | None = None
    content: str | None = None
    command: str | None = None
    file_path: str | None = None
    url: str | None = None
    args_hash: str | None = None
    attributes: str = "{}"  # JSON object text
    received_ns: int = 0


class MetricRow(msgspec.Struct, omit_defaults=True):
    """One stored OpenTelemetry metric data point (the ``metric_points`` table)."""

    point_id: str  # deterministic: an exporter's retry is deduplicated like an event
    ts: int  # epoch nanoseconds
    stack_name: str
    name: str
    kind: str  # gauge | sum | histogram | exp_histogram | summary
    service: str | None = None
    unit: str | None = None
    attributes: str = "{}"
    value: float | None = None
    count: int | None = None
    bounds: list[float] | None = None
    bucket_counts: list[int] | None = None
    monotonic: bool | None = None
    temporality: str | None = None
    start_ts: int | None = None
    received_ns: int = 0


_EPOCH_NS_MIN: Final = 10**15  # anything smaller is seconds or milliseconds, not ns
#: Every stored timestamp fits DuckDB's BIGINT nanoseconds (int64): 1970-01-01 up to
#: 2262-04-11 (2**63 - 1 ns). Text before 1677 would overflow the loader's cast and
#: stall every load behind it.
TS_MIN_NS: Final = 0
TS_MAX_NS: Final = 2**63 - 1
_TS_RANGE: Final = "out of range (1970-01-01..2262-04-11)"
#: Upper bounds of numeric ``data`` fields. Token counts are summed per hour, day and
#: session in BIGINT rollups: at 10**9 a call, 9 billion calls land in one bucket before
#: a sum could overflow. Costs and durations are summed as DOUBLE (no overflow, but a
#: 1e308 cost would turn every total into infinity).
MAX_TOKENS: Final = 10**9
MAX_INT: Final = 2**53  # content_length, word_count: exact in every JSON reader
MAX_STATUS_CODE: Final = 999
MAX_COST_USD: Final = 10.0**6
MAX_DURATION_MS: Final = 10.0**11  # about three years
MAX_SCORE: Final = 10.0**9
_attributes_encoder = msgspec.json.Encoder(order="sorted")


def parse_timestamp(value: object) -> int:
    """RFC 3339 text or integer epoch nanoseconds → epoch nanoseconds."""
    if isinstance(value, bool):
        raise EventError("timestamp must be an RFC 3339 string or epoch nanoseconds")
    if isinstance(value, int):
        if value < _EPOCH_NS_MIN:
            raise EventError("integer timestamps must be epoch nanoseconds")
        if value > TS_MAX_NS:
            raise EventError(f"timestamp: {_TS_RANGE}")
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_timestamp(int(text))
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise EventError(f"timestamp {value[:40]!r} is not RFC 3339") from None
        if parsed.tzinfo is None:
            raise EventError("timestamp needs a UTC offset (for example 'Z')")
        delta = parsed - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
        if not TS_MIN_NS <= ns <= TS_MAX_NS:
            raise EventError(f"timestamp: {_TS_RANGE}")
        return ns
    if value is None:
        raise EventError("timestamp is required")
    raise EventError("timestamp must be an RFC 3339 string or epoch nanoseconds")


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

#: Deepest object nesting kept (a deeper value is refused, never a RecursionError).
MAX_DEPTH: Final = 32


def _check_leaf(name: str, item: object, limits: Limits) -> None:
    if isinstance(item, str) and len(item) > limits.max_string_bytes:
        raise EventError(f"attribute {name!r} is longer than {limits.max_string_bytes} bytes")
    if isinstance(item, list):
        for v in item:
            if not (v is None or isinstance(v, str | int | float | bool)):
                raise EventError(f"attribute {name!r} must be a scalar or a list of scalars")
            if isinstance(v, str) and len(v) > limits.max_string_bytes:
                raise EventError(
                    f"attribute {name!r} holds a string longer than {limits.max_string_bytes} bytes"
                )


def _flatten_attributes(
    value: Mapping[str, Any], out: dict[str, Any], prefix: str, limits: Limits, depth: int = 0
) -> None:
    if depth >= MAX_DEPTH:
        raise EventError(f"attribute {prefix[:80]!r} is nested deeper than {MAX_DEPTH} levels")
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            _flatten_attributes(item, out, f"{name}.", limits, depth + 1)
            continue
        _check_leaf(name, item, limits)
        out[name] = item
        if len(out) > limits.max_attributes:
            raise EventError(f"more than {limits.max_attributes} attributes")


def _count_leaves(name: str, value: object, limits: Limits, depth: int = 0) -> int:
    """Check an unknown ``data`` value (stored as it is, inside attributes) against the
    limits an attribute has: string size, scalar lists, depth. Returns its leaf count."""
    if depth >= MAX_DEPTH:
        raise EventError(f"attribute {name[:80]!r} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        return sum(
            _count_leaves(f"{name}.{key}", item, limits, depth + 1) for key, item in value.items()
        )
    if isinstance(value, list) and not all(
        v is None or isinstance(v, str | int | float | bool) for v in value
    ):
        # A list of objects (tool call lists, LangChain messages): an unknown data key is
        # never a reason to refuse an event, so it is kept whole, bounded as one string.
        if len(msgspec.json.encode(value)) > limits.max_string_bytes:
            raise EventError(f"attribute {name!r} is longer than {limits.max_string_bytes} bytes")
        return 1
    _check_leaf(name, value, limits)
    return 1


def _check_depth(name: str, value: object) -> None:
    """Refuse values nested deeper than MAX_DEPTH (iteratively: no recursion limit)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list):
            if depth >= MAX_DEPTH:
                raise EventError(f"{name} is nested deeper than {MAX_DEPTH} levels")
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)


def _as_int(name: str, value: object, maximum: int = 2**63 - 1) -> int:
    if isinstance(value, bool):
        raise EventError(f"data.{name} must be an integer")
    if isinstance(value, int):
        result = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and value.strip().lstrip("-").isdigit()
    ):
        result = int(value)
    else:
        raise EventError(f"data.{name} must be an integer")
    if result < 0:
        raise EventError(f"data.{name} must not be negative")
    if result > maximum:
        raise EventError(f"data.{name}: out of range (0..{maximum})")
    return result


def _as_float(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool):
        raise EventError(f"data.{name} must be a number")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            raise EventError(f"data.{name} must be a number") from None
    else:
        raise EventError(f"data.{name} must be a number")
    if not math.isfinite(result):
        raise EventError(f"data.{name} must be a finite number")
    if not low <= result <= high:
        raise EventError(f"data.{name}: out of range ({low:g}..{high:g})")
    return result


def _as_str(name: str, value: object, limit: int) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    else:
        raise EventError(f"{name} must be a string")
    if len(text) > limit:
        raise EventError(f"{name} is longer than {limit} bytes")
    return text


def _content(name: str, value: object, limits: Limits) -> str:
    return _as_str("data.content", value, limits.max_content_bytes)


def _string(name: str, value: object, limits: Limits) -> str:
    return _as_str(f"data.{name}", value, limits.max_string_bytes)


def _boolean(name: str, value: object, limits: Limits) -> bool:
    if not isinstance(value, bool):
        raise EventError(f"data.{name} must be true or false")
    return value


#: Field → inclusive maximum (every integer field is non-negative).
_INT_MAX: Final[dict[str, int]] = {
    **{name: MAX_TOKENS for name in INT_DATA_FIELDS if name.startswith("tokens_")},
    "content_length": MAX_INT,
    "word_count": MAX_INT,
    "status_code": MAX_STATUS_CODE,
}
#: Field → inclusive (minimum, maximum). A feedback score may be negative (thumbs down).
_FLOAT_RANGE: Final[dict[str, tuple[float, float]]] = {
    "cost_usd": (0.0, MAX_COST_USD),
    "duration_ms": (0.0, MAX_DURATION_MS),
    "score": (-MAX_SCORE, MAX_SCORE),
}


def _integer(name: str, value: object, limits: Limits) -> int:
    return _as_int(name, value, _INT_MAX[name])


def _number(name: str, value: object, limits: Limits) -> float:
    low, high = _FLOAT_RANGE[name]
    return _as_float(name, value, low, high)


def _any(name: str, value: object, limits: Limits) -> object:
    _check_depth(f"data.{name}", value)
    return value  # raw args: hashed by the privacy engine, any JSON shape


#: ``data`` key → its check; a key not listed is an attribute, kept as it is.
_DATA_CHECKS: Final[dict[str, Any]] = {
    **dict.fromkeys(INT_DATA_FIELDS, _integer),
    **dict.fromkeys(FLOAT_DATA_FIELDS, _number),
    **dict.fromkeys(STR_DATA_FIELDS, _string),
    **dict.fromkeys(BOOL_DATA_FIELDS, _boolean),
    "content": _content,
    "args": _any,
}

_TOP, _DATA = 0, 1
_META_FIELDS: Final = ("event_id", "timestamp", "stack_name", "event_type", "attributes", "data")
#: Where each raw key goes: (section, canonical name). Built once; one dict lookup a key.
_ROUTES: Final[dict[str, tuple[int, str]]] = {
    **{name: (_TOP, name) for name in (*_META_FIELDS, *STRING_FIELDS)},
    **{camel: (_TOP, name) for camel, name in CAMEL_ALIASES.items()},
    # The hook's flat style (role, model, tool... at the top level) belongs in data.
    **{name: (_DATA, name) for name in _DATA_CHECKS},
    **{camel: (_DATA, name) for camel, name in CAMEL_DATA_ALIASES.items()},
}


#: Keys whose raw name is their canonical top-level name: an event with only these keys
#: (the native contract as documented) needs no routing, its dict is read as it is.
_PLAIN_TOP: Final = frozenset(
    name for name, (section, to) in _ROUTES.items() if section == _TOP and name == to
)
#: ``data`` keys that do not become attributes (their own columns; raw args, hashed).
_COLUMN_DATA: Final = DATA_FIELDS | {"args"}
#: ``data`` keys whose check is the plain string / boolean one (inlined in
#: :func:`_check_data`).
_STRING_CHECKED: Final = frozenset(k for k, check in _DATA_CHECKS.items() if check is _string)
_BOOL_CHECKED: Final = frozenset(k for k, check in _DATA_CHECKS.items() if check is _boolean)


def _check_data(data: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    out: dict[str, Any] = {}
    checks = _DATA_CHECKS
    strings = _STRING_CHECKED
    max_string = limits.max_string_bytes
    int_max = _INT_MAX
    float_range = _FLOAT_RANGE
    for key, value in data.items():
        if value is None:
            continue
        # The common cases inline, each exactly what its check returns for a value of
        # the field's own type within bounds; anything else (including every value the
        # check refuses) goes to the check itself.
        kind = type(value)
        if kind is str:
            if key in strings and len(value) <= max_string:
                out[key] = value
                continue
        elif kind is int:
            if key in int_max and 0 <= value <= int_max[key]:
                out[key] = value
                continue
        elif kind is float:
            bounds = float_range.get(key)
            if bounds is not None and bounds[0] <= value <= bounds[1]:  # NaN fails both
                out[key] = value
                continue
        elif kind is bool and key in _BOOL_CHECKED:
            out[key] = value
            continue
        check = checks.get(key)
        out[key] = value if check is None else check(key, value, limits)
    return out


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
                canonical[name] = value  # what _as_str returns for a string in bounds
            else:
                canonical[name] = _as_str(name, value, limit)

    attributes: dict[str, Any] = {}
    raw_attributes = top.get("attributes")
    if raw_attributes is not None:
        if not isinstance(raw_attributes, Mapping):
            raise EventError("attributes must be an object")
        _flatten_attributes(raw_attributes, attributes, "", limits)
    if extra:
        _flatten_attributes(extra, attributes, "", limits)
    checked = _check_data(data, limits) if data else {}
    # Unknown data keys end up in attributes (to_row): the same limits apply to them.
    if not checked.keys() <= _COLUMN_DATA:
        stored = len(attributes)
        for key, value in checked.items():
            if key not in _COLUMN_DATA:
                stored += _count_leaves(f"data.{key}", value, limits)
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
