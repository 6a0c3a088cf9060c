"""Console sessions: a random session id in an HttpOnly cookie, its hash server-side.

Signing in with a read or admin key creates a row in ``console_sessions`` (metadata
database) holding the SHA-256 of a random 256-bit session id, the key's id (never the
key) and an expiry. Each request looks the session up joined with ``api_keys``, so
the session acts as the key's *current* principal: revoking the key (CLI or console)
ends its sessions at once, logout deletes the row, and expired rows are refused and
swept. Sessions survive a hub restart and are shared by every process on the same
metadata database.

The cookie is ``HttpOnly``, ``SameSite=Lax``, ``Path=/`` and ``Secure`` when the request
came over https.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Final

import msgspec
import sqlalchemy as sa
from starlette.requests import HTTPConnection
from starlette.responses import Response

from stacklens.metadata.keys import Principal, Role
from stacklens.metadata.tables import api_keys, metadata

__all__ = [
    "COOKIE_NAME",
    "DEFAULT_TTL_S",
    "ConsoleSession",
    "SessionStore",
    "console_sessions",
    "session_principal",
]

COOKIE_NAME: Final = "stacklens_session"
DEFAULT_TTL_S: Final = 12 * 3600

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False),
)


class ConsoleSession(msgspec.Struct, frozen=True):
    """A live session: its (raw) id, for the CSRF token, and whose it is."""

    session_id: str
    principal: Principal
    expires_ns: int


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(
        self,
        engine: sa.engine.Engine,
        *,
        clock: Callable[[], int],
        ttl_s: int = DEFAULT_TTL_S,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.ttl_s = ttl_s

    def create(self, principal: Principal) -> ConsoleSession:
        """A new session for the (already authenticated) key's principal."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        expires = now + self.ttl_s * 10**9
        with self._engine.begin() as con:
            con.execute(console_sessions.delete().where(console_sessions.c.expires_ns <= now))
            con.execute(
                console_sessions.insert().values(
                    id_hash=_hash(session_id),
                    key_id=principal.key_id,
                    created_ns=now,
                    expires_ns=expires,
                )
            )
        return ConsoleSession(session_id, principal, expires)

    def get(self, session_id: str | None) -> ConsoleSession | None:
        """The live session with that id: unexpired and its key not revoked."""
        if not session_id or len(session_id) > 128:
            return None
        c, k = console_sessions.c, api_keys.c
        query = (
            sa.select(c.expires_ns, k.key_id, k.role, k.stack_name)
            .select_from(console_sessions.join(api_keys, c.key_id == k.key_id))
            .where(
                c.id_hash == _hash(session_id),
                c.expires_ns > self._clock(),
                k.revoked_ns.is_(None),
            )
        )
        with self._engine.connect() as con:
            row = con.execute(query).first()
        if row is None or Role(row.role) == Role.INGEST:
            return None
        principal = Principal(key_id=row.key_id, role=Role(row.role), stack=row.stack_name)
        return ConsoleSession(session_id, principal, int(row.expires_ns))

    def delete(self, session_id: str) -> None:
        with self._engine.begin() as con:
            con.execute(
                console_sessions.delete().where(console_sessions.c.id_hash == _hash(session_id))
            )

    def end_key_sessions(self, key_id: str) -> int:
        """Drop every session of a key (after revoking it); the count dropped."""
        with self._engine.begin() as con:
            result = con.execute(
                console_sessions.delete().where(console_sessions.c.key_id == key_id)
            )
            return int(result.rowcount or 0)

    def from_request(self, conn: HTTPConnection) -> ConsoleSession | None:
        return self.get(conn.cookies.get(COOKIE_NAME))

    def set_cookie(self, response: Response, conn: HTTPConnection, session: ConsoleSession) -> None:
        response.set_cookie(
            COOKIE_NAME,
            session.session_id,
            max_age=self.ttl_s,
            path="/",
            httponly=True,
            samesite="lax",
            secure=conn.url.scheme == "https",
        )

    @staticmethod
    def clear_cookie(response: Response, conn: HTTPConnection) -> None:
        response.delete_cookie(
            COOKIE_NAME,
            path="/",
            httponly=True,
            samesite="lax",
            secure=conn.url.scheme == "https",
        )


def session_principal(store: SessionStore, conn: HTTPConnection) -> Principal | None:
    """For ``api/auth.py``: the principal of a console session cookie on a read-only
    request (GET/HEAD) to ``/api/v1/*`` that carries no API key; ``None`` otherwise
    (then the usual key check answers). Mutations never authenticate by cookie, so a
    cross-site form cannot use a signed-in browser to change anything through the API.
    """
    if conn.scope.get("method") not in ("GET", "HEAD"):
        return None
    if not conn.url.path.startswith("/api/v1/"):
        return None
    headers = conn.headers
    if "x-api-key" in headers or "authorization" in headers:
        return None
    session = store.from_request(conn)
    return None if session is None else session.principal
