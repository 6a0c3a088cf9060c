"""Backoff of failed console sign-ins, per client address.

Each address may fail ``free`` times; every further failure closes the sign-in form
to that address for a delay that doubles (``base_s``, 2·``base_s``, … up to
``max_s``). While closed, ``POST /login`` answers 429 with ``Retry-After`` without
looking at the key, so guessing costs time whatever the guess. A success clears the
address; an address that has not failed for ``forget_s`` starts afresh, so nobody is
locked out for good. State is in memory (one hub process), bounded by ``max_entries``
(the stalest addresses are dropped first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import msgspec

__all__ = ["LoginThrottle"]

_NS: Final = 10**9


class _Entry(msgspec.Struct):
    failures: int
    last_ns: int
    blocked_until_ns: int = 0


class LoginThrottle:
    def __init__(
        self,
        clock: Callable[[], int],
        *,
        free: int = 5,
        base_s: float = 1.0,
        max_s: float = 60.0,
        forget_s: float = 15 * 60,
        max_entries: int = 10_000,
    ) -> None:
        self._clock = clock
        self.free = free
        self.base_s = base_s
        self.max_s = max_s
        self.forget_s = forget_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def _entry(self, address: str, now: int) -> _Entry | None:
        entry = self._entries.get(address)
        if entry is not None and now - entry.last_ns > self.forget_s * _NS:
            del self._entries[address]
            return None
        return entry

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again (0: now)."""
        now = self._clock()
        entry = self._entry(address, now)
        if entry is None or entry.blocked_until_ns <= now:
            return 0
        return max(1, -(-(entry.blocked_until_ns - now) // _NS))

    def failed(self, address: str) -> int:
        """Record a failure; the seconds the address must now wait (0: none)."""
        now = self._clock()
        entry = self._entry(address, now)
        if entry is None:
            entry = _Entry(0, now)
            self._entries[address] = entry
        entry.failures += 1
        entry.last_ns = now
        self._entries.move_to_end(address)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        over = entry.failures - self.free
        if over <= 0:
            return 0
        delay = min(self.base_s * 2 ** min(over - 1, 32), self.max_s)
        entry.blocked_until_ns = now + int(delay * _NS)
        return self.retry_after(address)

    def succeeded(self, address: str) -> None:
        self._entries.pop(address, None)
