"""Prometheus durations (``90s``, ``5m``, ``1h30m``, ``1d``) and RFC 3339 times.

Durations are held as integer nanoseconds everywhere in alerting, like the
hub's clock.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

__all__ = ["MAX_DURATION_NS", "NS_PER_S", "format_duration", "parse_duration", "rfc3339"]

NS_PER_S: Final = 1_000_000_000
_UNITS_NS: Final = {
    "y": 365 * 86400 * NS_PER_S,
    "w": 7 * 86400 * NS_PER_S,
    "d": 86400 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "m": 60 * NS_PER_S,
    "s": NS_PER_S,
    "ms": 1_000_000,
}
#: 100 years: every duration (rule windows, silences, "since 7d") is bounded, so a
#: time computed from one stays inside the 64-bit nanosecond range of the stores.
MAX_DURATION_NS: Final = 100 * _UNITS_NS["y"]
_ORDER: Final = ("y", "w", "d", "h", "m", "s", "ms")
_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_WHOLE = re.compile(r"(?:\d+(?:ms|y|w|d|h|m|s))+")


def parse_duration(text: str) -> int:
    """``"1h30m"`` → nanoseconds. Units must appear largest first, once each
    (Prometheus' rule); ``"0"`` and ``"0s"`` mean zero; at most 100 years."""
    text = text.strip()
    if text == "0":
        return 0
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"not a duration: {text!r} (e.g. 30s, 5m, 1h30m, 1d)")
    total = 0
    last = -1
    for amount, unit in _PART.findall(text):
        index = _ORDER.index(unit)
        if index <= last:
            raise ValueError(f"not a duration: {text!r} (units largest first, each once)")
        last = index
        if len(amount) > 20:
            raise ValueError(f"duration {text[:40]!r} is longer than 100y")
        total += int(amount) * _UNITS_NS[unit]
    if total > MAX_DURATION_NS:
        raise ValueError(f"duration {text[:40]!r} is longer than 100y")
    return total


def format_duration(ns: int) -> str:
    """Nanoseconds → the shortest Prometheus duration (``0s`` for zero)."""
    if ns <= 0:
        return "0s"
    parts: list[str] = []
    rest = ns
    for unit in _ORDER:
        size = _UNITS_NS[unit]
        if unit in ("y", "w"):
            continue  # days read better than weeks/years in rule files
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def rfc3339(ns: int) -> str:
    """Epoch nanoseconds → RFC 3339 UTC with milliseconds (what Alertmanager sends)."""
    moment = dt.datetime.fromtimestamp(ns // 1_000_000 / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
