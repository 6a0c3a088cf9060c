"""Loki's query parameters, read the way Loki reads them.

- Times (``start``, ``end``, ``time``): a number with a ``.`` is float seconds; an
  integer of at most 10 digits is seconds, a longer one nanoseconds (what Grafana sends);
  anything else RFC 3339. Bounded to [1970, 2200) like every time the hub reads.
- ``step``: a duration (``60000ms``, Grafana's form; ``5m``) or float seconds; default
  ``max(floor(range / 250 s), 1 s)``, Loki's.
- ``limit``: 1 .. the entries bound; ``direction``: ``forward``/``backward``.
Errors are :class:`~stacklens.logql.syntax.LogQLError` worded like Loki's.
"""

from __future__ import annotations

import math
import re
from typing import Final, cast

from stacklens.alerting.durations import parse_duration
from stacklens.api.timeparse import MAX_TIME_NS
from stacklens.schema import EventError, parse_timestamp

from .engine import Bounds, LimitError
from .sql import Direction
from .syntax import LogQLError

__all__ = [
    "check_range",
    "parse_direction",
    "parse_limit",
    "parse_step",
    "parse_time",
]

_INTEGER: Final = re.compile(r"-?\d{1,20}")
_FLOAT: Final = re.compile(r"-?\d{0,20}\.\d{0,12}")
_DEFAULT_LIMIT: Final = 100


def parse_time(value: str | None, default_ns: int, name: str) -> int:
    if value is None or value == "":
        return default_ns
    text = value.strip()
    ns: int
    if _FLOAT.fullmatch(text) and text not in (".", "-."):
        seconds = float(text)
        whole = math.floor(seconds)
        ns = whole * 10**9 + round((seconds - whole) * 1000) * 10**6
    elif _INTEGER.fullmatch(text):
        number = int(text)
        ns = number * 10**9 if len(text.lstrip("-")) <= 10 else number
    else:
        try:
            ns = parse_timestamp(text)
        except (EventError, OverflowError, ValueError):
            raise LogQLError(
                f"invalid {name}: {text[:40]!r}: use epoch nanoseconds, seconds or RFC 3339"
            ) from None
    if not 0 <= ns < MAX_TIME_NS:
        raise LogQLError(f"invalid {name}: {text[:40]!r} is outside 1970-01-01 .. 2200-01-01")
    return ns


def parse_step(value: str | None, start_ns: int, end_ns: int) -> int:
    if value is None or value == "":
        return max((end_ns - start_ns) // 10**9 // 250, 1) * 10**9
    text = value.strip()
    step: int
    if _FLOAT.fullmatch(text) or _INTEGER.fullmatch(text):
        step = round(float(text) * 1000) * 10**6
    else:
        try:
            step = parse_duration(text)
        except ValueError:
            raise LogQLError(
                f"invalid step: {text[:40]!r}: use a duration (60000ms, 1m) or seconds"
            ) from None
    if step <= 0:
        raise LogQLError(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    return step


def parse_limit(value: str | None, bounds: Bounds) -> int:
    if value is None or value == "":
        return min(_DEFAULT_LIMIT, bounds.max_entries)
    text = value.strip()
    if not _INTEGER.fullmatch(text):
        raise LogQLError(f"invalid limit: {text[:40]!r} is not a whole number")
    limit = int(text)
    if limit <= 0:
        raise LogQLError("limit must be a positive value")
    if limit > bounds.max_entries:
        raise LimitError(
            f"max entries limit per query exceeded, limit > max_entries_limit "
            f"({limit} > {bounds.max_entries})"
        )
    return limit


def parse_direction(value: str | None) -> Direction:
    text = (value or "backward").strip().lower()
    if text not in ("forward", "backward"):
        raise LogQLError(f"invalid direction: {text[:20]!r} (forward or backward)")
    return cast(Direction, text)


def check_range(start_ns: int, end_ns: int, bounds: Bounds, step_ns: int | None = None) -> None:
    """The window is ordered, no longer than the bound, with few enough steps."""
    if end_ns < start_ns:
        raise LogQLError("the end timestamp must not be before the start time")
    if end_ns - start_ns > bounds.max_query_length_ns:
        hours = bounds.max_query_length_ns // 3_600_000_000_000
        raise LimitError(
            f"the query time range exceeds the limit (query length: "
            f"{(end_ns - start_ns) / 3.6e12:.1f}h, limit: {hours}h, max_query_length)"
        )
    if step_ns is not None and (end_ns - start_ns) // step_ns + 1 > bounds.max_points:
        raise LimitError(
            f"exceeded maximum resolution of {bounds.max_points} points per timeseries. "
            "Try decreasing the query resolution (?step=XX)"
        )
