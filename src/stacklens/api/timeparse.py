"""Time parameters of the query API: RFC 3339, epoch nanoseconds, or a duration ago."""

from __future__ import annotations

import re
from typing import Final

from stacklens.schema import EventError, parse_timestamp

__all__ = ["parse_time_param"]

_DURATION: Final = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_NS: Final = {
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
    "w": 7 * 86400 * 10**9,
}


def parse_time_param(value: str, now_ns: int) -> int:
    """``2026-01-10T12:00:00Z``, ``1768046400000000000`` or ``15m`` (15 minutes ago)."""
    match = _DURATION.fullmatch(value.strip())
    if match:
        return now_ns - int(match.group(1)) * _UNIT_NS[match.group(2)]
    try:
        return parse_timestamp(value)
    except EventError as exc:
        raise ValueError(
            f"{value[:40]!r}: use RFC 3339, epoch nanoseconds or a duration like 15m ({exc})"
        ) from None
