"""Clocks and id generators, injected wherever time or identity is made.

Production code takes a ``Clock`` and an ``IdFactory`` as arguments so tests can pin
them (see :mod:`stacklens.testing`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

__all__ = ["Clock", "IdFactory", "new_ulid", "system_clock_ns"]

#: Returns the current time as integer nanoseconds since the Unix epoch.
Clock = Callable[[], int]
#: Returns a fresh, unique, lexicographically time-ordered id.
IdFactory = Callable[[], str]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def system_clock_ns() -> int:
    return time.time_ns()


def new_ulid(now_ns: int | None = None) -> str:
    """A ULID (48-bit millisecond time + 80 random bits, Crockford base32).

    ULIDs sort by creation time, which keeps event ids roughly ordered in the store.
    """
    millis = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))
