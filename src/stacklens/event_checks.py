"""The value checks and coercions of the event contract: timestamps, the typed fields
of ``data``, attribute trees (size, nesting, count) and the numeric bounds they hold to.

Each check raises :class:`~stacklens.event_rows.EventError` with a client-facing
reason. :func:`check_data` is on every event's path: its common cases are inlined.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from stacklens.event_fields import (
    BOOL_DATA_FIELDS,
    FLOAT_DATA_FIELDS,
    INT_DATA_FIELDS,
    STR_DATA_FIELDS,
)
from stacklens.event_rows import EventError, Limits

__all__ = [
    "DATA_CHECKS",
    "MAX_COST_USD",
    "MAX_DEPTH",
    "MAX_DURATION_MS",
    "MAX_INT",
    "MAX_SCORE",
    "MAX_STATUS_CODE",
    "MAX_TOKENS",
    "TS_MAX_NS",
    "TS_MIN_NS",
    "as_str",
    "check_data",
    "count_leaves",
    "flatten_attributes",
    "parse_timestamp",
]

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


def flatten_attributes(
    value: Mapping[str, Any], out: dict[str, Any], prefix: str, limits: Limits, depth: int = 0
) -> None:
    if depth >= MAX_DEPTH:
        raise EventError(f"attribute {prefix[:80]!r} is nested deeper than {MAX_DEPTH} levels")
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flatten_attributes(item, out, f"{name}.", limits, depth + 1)
            continue
        _check_leaf(name, item, limits)
        out[name] = item
        if len(out) > limits.max_attributes:
            raise EventError(f"more than {limits.max_attributes} attributes")


def count_leaves(name: str, value: object, limits: Limits, depth: int = 0) -> int:
    """Check an unknown ``data`` value (stored as it is, inside attributes) against the
    limits an attribute has: string size, scalar lists, depth. Returns its leaf count."""
    if depth >= MAX_DEPTH:
        raise EventError(f"attribute {name[:80]!r} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        return sum(
            count_leaves(f"{name}.{key}", item, limits, depth + 1) for key, item in value.items()
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


def as_str(name: str, value: object, limit: int) -> str:
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
    return as_str("data.content", value, limits.max_content_bytes)


def _string(name: str, value: object, limits: Limits) -> str:
    return as_str(f"data.{name}", value, limits.max_string_bytes)


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
DATA_CHECKS: Final[dict[str, Any]] = {
    **dict.fromkeys(INT_DATA_FIELDS, _integer),
    **dict.fromkeys(FLOAT_DATA_FIELDS, _number),
    **dict.fromkeys(STR_DATA_FIELDS, _string),
    **dict.fromkeys(BOOL_DATA_FIELDS, _boolean),
    "content": _content,
    "args": _any,
}

#: ``data`` keys whose check is the plain string / boolean one (inlined in
#: :func:`check_data`).
_STRING_CHECKED: Final = frozenset(k for k, check in DATA_CHECKS.items() if check is _string)
_BOOL_CHECKED: Final = frozenset(k for k, check in DATA_CHECKS.items() if check is _boolean)


def check_data(data: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """The ``data`` object checked into a new dict: each field with a check coerced and
    bounded, ``None`` values left out, any other key kept as it is (an attribute)."""
    out: dict[str, Any] = {}
    checks = DATA_CHECKS
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
