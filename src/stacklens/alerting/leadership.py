"""Which replica runs the alert engine.

Several hubs can share one metadata database; rule evaluation, notification dispatch
and forwarding must run on exactly one of them (two would each notify). Every replica
asks its :class:`Leadership` once per loop pass: the leader before each evaluation
(so a leader that lost its lock stops at once), a standby every ``retry_interval``
(so it takes over within one interval of the lock freeing).

- :class:`SoleLeader`: the process is always the leader. For SQLite metadata: a SQLite
  file is one box's and, by default, one data dir's; replicas need a server database.
- :class:`Elector` over a :class:`LeaderLock`: leads while it holds the lock. The
  production lock is PostgreSQL's session advisory lock
  (:mod:`stacklens.alerting.pg_advisory_lock`); tests inject their own, and the clock.
"""

from __future__ import annotations

import enum
from typing import Protocol

import structlog

from stacklens.ids import Clock

__all__ = ["Elector", "LeaderLock", "Leadership", "SoleLeader", "Turn"]

log = structlog.get_logger(__name__)


class Turn(enum.Enum):
    """What one :meth:`Leadership.check` found."""

    LEADING = "leading"  # was and still is the leader
    STANDING_BY = "standing_by"  # was not and still is not
    ELECTED = "elected"  # took the lock in this check
    DEPOSED = "deposed"  # held it before this check, not any more


class LeaderLock(Protocol):
    """A lock one process holds until it releases it or dies."""

    def try_acquire(self) -> bool:
        """Take the lock if free, without waiting; ``False`` when another holds it or
        the lock's backend cannot be reached."""
        ...

    def still_held(self) -> bool:
        """Whether the lock taken is still ours (its connection is alive)."""
        ...

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        ...


class Leadership(Protocol):
    @property
    def leading(self) -> bool: ...

    @property
    def method(self) -> str:
        """How the leader is chosen (``/health`` shows it)."""
        ...

    def check(self) -> Turn: ...

    def retry_delay_ns(self) -> int | None:
        """How long a standby waits before its next try (``None`` when leading)."""
        ...

    def close(self) -> None: ...


class SoleLeader:
    """Always the leader: one hub on its own metadata database."""

    method = "single"

    @property
    def leading(self) -> bool:
        return True

    def check(self) -> Turn:
        return Turn.LEADING

    def retry_delay_ns(self) -> int | None:
        return None

    def close(self) -> None:
        pass


class Elector:
    """Leads while holding ``lock``; checks it is still held at every :meth:`check`,
    and as a standby tries to take it at most every ``retry_interval_s``."""

    def __init__(
        self,
        lock: LeaderLock,
        *,
        clock: Clock,
        retry_interval_s: float,
        method: str = "lock",
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._retry_ns = max(1, int(retry_interval_s * 1e9))
        self._leading = False
        self._next_try_ns: int | None = None  # None: try at the next check
        self.method = method

    @property
    def leading(self) -> bool:
        return self._leading

    def check(self) -> Turn:
        now = self._clock()
        if self._leading:
            if self._lock.still_held():
                return Turn.LEADING
            # The lock's connection dropped: another replica may hold it already.
            log.warning("alert engine leadership lost", method=self.method)
            self._leading = False
            self._lock.release()
            self._next_try_ns = now  # try again at once: perhaps nobody else took it
            return Turn.DEPOSED
        if self._next_try_ns is not None and now < self._next_try_ns:
            return Turn.STANDING_BY
        if self._lock.try_acquire():
            log.info("alert engine leadership taken", method=self.method)
            self._leading = True
            self._next_try_ns = None
            return Turn.ELECTED
        self._next_try_ns = now + self._retry_ns
        return Turn.STANDING_BY

    def retry_delay_ns(self) -> int | None:
        if self._leading:
            return None
        if self._next_try_ns is None:
            return 0
        return max(0, self._next_try_ns - self._clock())

    def close(self) -> None:
        self._leading = False
        self._lock.release()
