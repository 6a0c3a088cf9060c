"""CSRF protection of the console's forms (synchronizer tokens, no server state).

- Signed-in forms carry ``csrf = HMAC(console secret, "session:" + session id)``; the
  session id lives only in the HttpOnly cookie, so another site can neither read nor
  forge the token.
- The sign-in form (no session yet) carries ``HMAC(secret, "login:" + nonce)`` where
  the nonce is a random value in a short-lived HttpOnly ``SameSite=Strict`` cookie set
  when the form is shown (a login-CSRF defence).

Every POST of the console checks its token (and its ``Origin`` when the browser sends
one) before doing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

from starlette.requests import HTTPConnection
from starlette.responses import Response

__all__ = [
    "FIELD",
    "LOGIN_COOKIE",
    "CsrfError",
    "CsrfGuard",
    "check_origin",
    "set_login_cookie",
]

FIELD: Final = "csrf"
LOGIN_COOKIE: Final = "stacklens_login"
_LOGIN_TTL_S: Final = 3600


class CsrfError(Exception):
    """A console POST without a valid token (answered 403)."""


class CsrfGuard:
    def __init__(self, secret: bytes) -> None:
        self._secret = hmac.new(secret, b"stacklens-console-csrf", hashlib.sha256).digest()

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    # -- signed-in forms -----------------------------------------------------------
    def session_token(self, session_id: str) -> str:
        return self._mac("session", session_id)

    def check_session(self, conn: HTTPConnection, session_id: str, token: str | None) -> None:
        check_origin(conn)
        expected = self.session_token(session_id)
        if not token or not hmac.compare_digest(expected.encode(), token.encode()):
            raise CsrfError("missing or invalid CSRF token")

    # -- the sign-in form ------------------------------------------------------------
    def login_nonce(self, conn: HTTPConnection) -> tuple[str, bool]:
        """The browser's sign-in nonce, or a new one (``True``: set the cookie)."""
        nonce = conn.cookies.get(LOGIN_COOKIE)
        if nonce and 16 <= len(nonce) <= 128:
            return nonce, False
        return secrets.token_urlsafe(24), True

    def login_token(self, nonce: str) -> str:
        return self._mac("login", nonce)

    def check_login(self, conn: HTTPConnection, token: str | None) -> None:
        check_origin(conn)
        nonce = conn.cookies.get(LOGIN_COOKIE)
        if not nonce or not token:
            raise CsrfError("the sign-in form expired: please try again")
        if not hmac.compare_digest(self._mac("login", nonce).encode(), token.encode()):
            raise CsrfError("the sign-in form expired: please try again")


def set_login_cookie(response: Response, conn: HTTPConnection, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=_LOGIN_TTL_S,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=conn.url.scheme == "https",
    )


def check_origin(conn: HTTPConnection) -> None:
    """Refuse a POST whose ``Origin`` names another site (browsers send it on POST)."""
    origin = conn.headers.get("origin")
    if origin is None or origin == "null":
        return
    host = conn.headers.get("host", "")
    scheme, _, rest = origin.partition("://")
    if rest != host or scheme not in ("http", "https"):
        raise CsrfError("cross-origin form post refused")
