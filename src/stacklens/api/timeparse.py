"""Time parameters of the query API: RFC 3339, epoch nanoseconds, or a duration ago.

Every time a route reads is bounded to [1970, 2200): beyond that a nanosecond count no
longer fits the stores' 64-bit integers (and no data is there), so the answer is a 400
naming the parameter instead of an overflow deep in a query. Durations go through the
one bounded parser, :func:`stacklens.alerting.durations.parse_duration`.
"""

from __future__ import annotations

import re
from typing import Final

from stacklens.alerting.durations import parse_duration
from stacklens.analytics.export import parse_month
from stacklens.schema import EventError, parse_timestamp

__all__ = ["MAX_TIME_NS", "bounded_timestamp", "parse_month_param", "parse_time_param"]

_DURATION: Final = re.compile(r"(\d+)(ms|s|m|h|d|w)")
#: 2200-01-01T00:00:00Z: later times are refused (int64 nanoseconds end in 2262).
MAX_TIME_NS: Final = 7_258_118_400 * 10**9
_MAX_YEAR: Final = 2199


def _bounded(ns: int, value: str, name: str) -> int:
    if not 0 <= ns < MAX_TIME_NS:
        raise ValueError(f"{name}: {value[:40]!r} is outside 1970-01-01 .. 2200-01-01")
    return ns


def parse_time_param(value: str, now_ns: int, *, name: str = "time") -> int:
    """``2026-01-10T12:00:00Z``, ``1768046400000000000`` or ``15m`` (15 minutes ago);
    ``ValueError`` naming ``name`` when unreadable or out of bounds."""
    text = value.strip()
    if _DURATION.fullmatch(text):
        try:
            ago = parse_duration(text)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        return _bounded(now_ns - ago, value, name)
    return bounded_timestamp(value, name=name, hint=" or a duration like 15m")


def bounded_timestamp(value: object, *, name: str, hint: str = "") -> int:
    """RFC 3339 or epoch nanoseconds, within the bounds; ``ValueError`` naming ``name``."""
    try:
        ns = parse_timestamp(value)
    except (EventError, OverflowError) as exc:
        shown = str(value)[:40]
        raise ValueError(
            f"{name}: {shown!r}: use RFC 3339 or epoch nanoseconds{hint} ({exc})"
        ) from None
    return _bounded(ns, str(value), name)


def parse_month_param(text: str, *, name: str = "month") -> tuple[int, int]:
    """``YYYY-MM`` between 1970-01 and 2199-12 → (year, month)."""
    try:
        year, month = parse_month(text)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if not 1970 <= year <= _MAX_YEAR:
        raise ValueError(f"{name}: {text[:20]!r} is outside 1970-01 .. {_MAX_YEAR}-12")
    return year, month
