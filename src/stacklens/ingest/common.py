"""What every ingest route does before decoding: authenticate, check the stack header,
read the body within its limit, refuse when the spool is full. Errors are raised as
:class:`IngestError` so each protocol answers in its own format."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from fastapi import Request

from stacklens.api.auth import AuthError, authenticate
from stacklens.config import HubConfig
from stacklens.ingest.body import BodyError, decode_content_encoding
from stacklens.ingest.limits import RequestLimits
from stacklens.ingest.spool import SpoolFullError
from stacklens.metadata.keys import Principal
from stacklens.schema import STACK_NAME_RE

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = ["AcceptedRequest", "IngestError", "accept_request", "read_body", "request_limits"]


class IngestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class AcceptedRequest(NamedTuple):
    principal: Principal
    #: The stack named by the request (``X-Stack-Name`` or Loki's ``X-Scope-OrgID``).
    header_stack: str | None
    body: bytes


def request_limits(config: HubConfig) -> RequestLimits:
    """The per-request cost bounds the configuration sets."""
    return RequestLimits(
        max_items=config.max_items_per_request,
        max_attributes=config.max_attributes_per_item,
        max_depth=config.max_attribute_depth,
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(f"body is larger than {limit} bytes", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(f"body is larger than {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


async def accept_request(
    hub: Hub,
    request: Request,
    *,
    stack_header: str = "x-stack-name",
    undo_encoding: bool = True,
) -> AcceptedRequest:
    try:
        principal = authenticate(hub.keyring, request.headers)
    except AuthError as exc:
        raise IngestError(exc.status_code, str(exc.detail)) from None
    if not principal.can_write():
        raise IngestError(403, f"a {principal.role} key cannot write")
    header_stack = request.headers.get(stack_header) or None
    if header_stack is not None and not STACK_NAME_RE.fullmatch(header_stack):
        raise IngestError(400, f"{stack_header} must match [a-z0-9][a-z0-9_.-]{{0,62}}")
    if principal.stack is not None and header_stack not in (None, principal.stack):
        raise IngestError(
            403, f"this key is bound to stack {principal.stack!r}, not {header_stack!r}"
        )
    try:
        hub.spool.check_capacity()
        limit = hub.config.max_body_bytes
        body = await read_body(request, limit)
        if undo_encoding:
            body = decode_content_encoding(body, request.headers.get("content-encoding"), limit)
    except SpoolFullError as exc:
        raise IngestError(503, str(exc)) from None
    except BodyError as exc:
        raise IngestError(exc.status, str(exc)) from None
    return AcceptedRequest(principal, header_stack, body)


def json_sent_as_protobuf(body: bytes, content_type: str | None) -> str | None:
    """A hint when a body declared protobuf is in fact JSON (a common client mistake),
    or ``None``. Only called once decoding has already failed."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if "protobuf" in declared and body.lstrip()[:1] in (b"{", b"["):
        return (
            f"the body is JSON but Content-Type says {declared}: "
            "send it with Content-Type: application/json"
        )
    return None
