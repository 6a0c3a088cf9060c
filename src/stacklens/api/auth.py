"""Request authentication: API key from ``X-API-Key``, ``Authorization: Bearer`` or the
password of ``Authorization: Basic`` (what Promtail/Alloy/Fluent Bit can send)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Protocol

from fastapi import HTTPException, Request

from stacklens.metadata.keys import Principal
from stacklens.web.session import session_principal

__all__ = ["AuthError", "KeyLookup", "authenticate", "extract_key", "require"]


class KeyLookup(Protocol):
    """What authentication needs of the key ring (``KeyRing`` is one)."""

    def authenticate(self, key: str) -> Principal | None: ...


class AuthError(HTTPException):
    def __init__(self, status: int, detail: str) -> None:
        headers = {"WWW-Authenticate": 'Bearer realm="stacklens"'} if status == 401 else None
        super().__init__(status_code=status, detail=detail, headers=headers)


def extract_key(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def authenticate(keyring: KeyLookup, headers: Mapping[str, str]) -> Principal:
    key = extract_key(headers)
    if key is None:
        raise AuthError(401, "missing API key (X-API-Key or Authorization: Bearer)")
    principal = keyring.authenticate(key)
    if principal is None:
        raise AuthError(401, "unknown or revoked API key")
    return principal


def require(action: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the request's principal, allowed to ``read``/``write``/``admin``."""

    def dependency(request: Request) -> Principal:
        # A console session reads (GET/HEAD, no key header) as its key.
        principal = session_principal(request)
        if principal is None:
            principal = authenticate(request.app.state.hub.keyring, request.headers)
        allowed = {
            "read": principal.can_read(),
            "write": principal.can_write(),
            "admin": principal.role == "admin",
        }[action]
        if not allowed:
            raise AuthError(403, f"a {principal.role} key cannot {action}")
        return principal

    return dependency
