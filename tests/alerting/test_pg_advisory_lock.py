"""The leader lock on a real PostgreSQL: one holder; freed when the holder releases it or
its session dies; held through a server-wide idle timeout; an unreachable server is
"not the leader", never an exception."""

from __future__ import annotations

import time

import sqlalchemy as sa

from stacklens.alerting.pg_advisory_lock import (
    ALERTING_LOCK_KEY,
    PostgresAdvisoryLock,
    advisory_key,
)
from stacklens.testing import free_port


def holders(url: str, key: int) -> list[int]:
    """Backend pids holding the advisory lock ``key`` (a bigint key is stored as its
    high and low 32 bits in ``classid``/``objid``, ``objsubid`` 1)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    with engine.connect() as con:
        rows = con.execute(
            sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = :high AND objid = :low AND objsubid = 1"
            ),
            {"high": high, "low": low},
        ).all()
    engine.dispose()
    return [int(r.pid) for r in rows]


def backend_pid(lock: PostgresAdvisoryLock) -> int:
    assert lock._con is not None
    return int(lock._con.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_key_is_fixed_and_64_bit() -> None:
    # Pinned: replicas of two versions (a rolling upgrade) must compete for one key.
    # sha256("stacklens-alerting") starts e568545ffefac597, as a signed 64-bit integer:
    assert ALERTING_LOCK_KEY == int("e568545ffefac597", 16) - 2**64 == -1916188870169672297
    assert advisory_key("stacklens-alerting") != advisory_key("stacklens-other")


def test_one_holder_then_the_other_after_release(postgres_url: str) -> None:
    a, b = PostgresAdvisoryLock(postgres_url), PostgresAdvisoryLock(postgres_url)
    try:
        assert a.try_acquire()
        assert not b.try_acquire()
        assert a.try_acquire()  # re-entrant for its holder
        assert holders(postgres_url, ALERTING_LOCK_KEY) == [backend_pid(a)]
        assert a.still_held()
        a.release()
        assert not a.still_held()
        assert b.try_acquire()
        assert holders(postgres_url, ALERTING_LOCK_KEY) == [backend_pid(b)]
    finally:
        a.close()
        b.close()


def test_session_killed_frees_the_lock_and_the_holder_notices(postgres_url: str) -> None:
    a, b = PostgresAdvisoryLock(postgres_url), PostgresAdvisoryLock(postgres_url)
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        assert a.try_acquire()
        pid = backend_pid(a)
        with admin.connect() as con:
            assert con.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        # Freed on the server at once; the old holder learns it at its next check.
        assert b.try_acquire()
        assert not a.still_held()
        assert not a.try_acquire()
    finally:
        a.close()
        b.close()
        admin.dispose()


def test_held_through_a_server_idle_session_timeout(postgres_url: str) -> None:
    admin = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        name = con.execute(sa.text("SELECT current_database()")).scalar_one()
        con.execute(sa.text(f'ALTER DATABASE "{name}" SET idle_session_timeout = 500'))
    a = PostgresAdvisoryLock(postgres_url)
    try:
        assert a.try_acquire()
        time.sleep(1.2)  # idle past the database's 500 ms
        assert a.still_held()
        assert holders(postgres_url, ALERTING_LOCK_KEY) == [backend_pid(a)]
    finally:
        a.close()
        with admin.connect() as con:
            con.execute(sa.text(f'ALTER DATABASE "{name}" RESET idle_session_timeout'))
        admin.dispose()


def test_unreachable_server_is_not_leading() -> None:
    lock = PostgresAdvisoryLock(
        f"postgresql+psycopg://nobody:pw@127.0.0.1:{free_port()}/none", connect_timeout_s=1
    )
    assert not lock.try_acquire()
    assert not lock.still_held()
    lock.close()
