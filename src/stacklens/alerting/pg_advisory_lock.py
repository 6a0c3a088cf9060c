"""The alert engine's leader lock on PostgreSQL: a session-level advisory lock held on
one dedicated connection.

PostgreSQL releases a session advisory lock when its session ends, and the session ends
when its connection closes: a replica killed with ``kill -9`` has its socket closed by
its kernel, so the lock frees at once and a standby's next ``pg_try_advisory_lock``
wins. For a replica that vanishes without closing its socket (power loss, a
partition) the server's TCP keepalives, set on this session, end it within
``keepalive_idle + keepalive_interval * keepalive_count`` seconds.

The connection is in autocommit (an open transaction could be ended by
``idle_in_transaction_session_timeout``) and sets ``idle_session_timeout = 0`` for itself
(a server-wide idle timeout would otherwise end the session, and with it the lock,
between two checks). It must reach PostgreSQL directly or through a pooler in *session*
mode: a transaction-mode pooler (PgBouncer's default) hands the session to others.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import sqlalchemy as sa
import structlog

__all__ = ["ALERTING_LOCK_KEY", "PostgresAdvisoryLock", "advisory_key"]

log = structlog.get_logger(__name__)


def advisory_key(name: str) -> int:
    """A fixed signed 64-bit advisory lock key for ``name`` (first 8 bytes of its SHA-256):
    every replica of every version computes the same one."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


#: The key every hub's alert engine competes for.
ALERTING_LOCK_KEY = advisory_key("stacklens-alerting")

_SESSION_SETTINGS = (
    # Ours is an idle session by design; never let a server-wide timeout end it.
    "SET idle_session_timeout = 0",
    "SET idle_in_transaction_session_timeout = 0",
    # A check on a dead network must not hang the alert loop.
    "SET statement_timeout = '5s'",
)


class PostgresAdvisoryLock:
    """:class:`~stacklens.alerting.leadership.LeaderLock` on ``pg_try_advisory_lock``."""

    def __init__(
        self,
        url: str,
        *,
        key: int = ALERTING_LOCK_KEY,
        connect_timeout_s: int = 5,
        keepalive_idle_s: int = 5,
        keepalive_interval_s: int = 2,
        keepalive_count: int = 3,
    ) -> None:
        self.key = key
        self._keepalives = (keepalive_idle_s, keepalive_interval_s, keepalive_count)
        # Its own engine without a pool: the lock belongs to exactly one connection,
        # which nothing else may borrow and which must never be silently replaced.
        self._engine = sa.create_engine(
            url,
            poolclass=sa.pool.NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args=_client_keepalives(
                connect_timeout_s, keepalive_idle_s, keepalive_interval_s, keepalive_count
            ),
        )
        self._con: sa.Connection | None = None

    def try_acquire(self) -> bool:
        try:
            if self._con is None:
                self._con = self._open()
            got = self._con.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            ).scalar()
        except sa.exc.SQLAlchemyError as exc:  # unreachable: not the leader, retry later
            log.warning("alert leader lock unavailable", error=f"{type(exc).__name__}")
            self.release()
            return False
        return bool(got)

    def _open(self) -> sa.Connection:
        con = self._engine.connect()
        for statement in _SESSION_SETTINGS:
            con.execute(sa.text(statement))
        idle, interval, count = self._keepalives
        # Server side: a client host that vanished is noticed and its session (and the
        # lock) ended. Ignored by PostgreSQL on a Unix socket, where no host can vanish.
        for name, value in (
            ("tcp_keepalives_idle", idle),
            ("tcp_keepalives_interval", interval),
            ("tcp_keepalives_count", count),
        ):
            con.execute(
                sa.text("SELECT set_config(:name, :value, false)"),
                {
                    "name": name,
                    "value": str(value),
                },
            )
        return con

    def still_held(self) -> bool:
        if self._con is None:
            return False
        try:
            # The lock lives as long as the session; the session as long as this
            # connection answers.
            self._con.execute(sa.text("SELECT 1")).scalar()
        except sa.exc.SQLAlchemyError:
            self.release()
            return False
        return True

    def release(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            # Closing the session releases the lock, but the server ends the backend a
            # moment after the client hangs up; an explicit unlock first makes a graceful
            # hand-over immediate. ``unlock_all``: a session-level lock taken n times
            # (a holder's re-entrant try_acquire) needs n unlocks, and this session
            # holds nothing else.
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                con.execute(sa.text("SELECT pg_advisory_unlock_all()"))
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                con.close()

    def close(self) -> None:
        self.release()
        self._engine.dispose()


def _client_keepalives(
    connect_timeout: int, idle: int, interval: int, count: int
) -> dict[str, Any]:
    """libpq options: a check on a connection whose server vanished fails within about
    ``idle + interval * count`` seconds instead of hanging (``tcp_user_timeout`` bounds
    unacknowledged writes the same way)."""
    return {
        "connect_timeout": connect_timeout,
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": interval,
        "keepalives_count": count,
        "tcp_user_timeout": (idle + interval * count) * 1000,
    }
