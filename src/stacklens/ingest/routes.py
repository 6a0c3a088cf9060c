"""Native ingest: ``POST /v1/events`` and the seed's ``POST /ingest``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from stacklens.api.auth import AuthError, authenticate
from stacklens.ingest.body import (
    NATIVE_TYPES,
    BodyError,
    UnsupportedMediaError,
    decode_content_encoding,
    media_type,
    parse_native,
)
from stacklens.ingest.pipeline import ForbiddenStackError
from stacklens.ingest.spool import SpoolClosedError, SpoolFullError
from stacklens.schema import STACK_NAME_RE

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = ["read_body", "router"]

router = APIRouter()

_INGEST_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/NativeEvent"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    },
    "responses": {
        "200": {"description": "Accepted (durable); rejected events listed by index."},
        "400": {"description": "No valid event, or an unreadable body."},
        "401": {"description": "Missing, unknown or revoked key."},
        "403": {"description": "Key cannot write, or names another stack."},
        "413": {"description": "Body over the size limit."},
        "415": {"description": "Unsupported Content-Type or Content-Encoding."},
        "503": {"description": "Spool backlog over its bound; retry after Retry-After."},
    },
}


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


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="stacklens"'}
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


@router.post("/v1/events", openapi_extra=_INGEST_DOC, tags=["ingest"])
@router.post("/ingest", openapi_extra=_INGEST_DOC, tags=["ingest"])
async def ingest_events(request: Request) -> Response:
    """Ingest native events: a JSON object, a JSON array or NDJSON, gzip or not."""
    hub: Hub = request.app.state.hub
    started = time.perf_counter()
    response = await _ingest(hub, request)
    hub.metrics.requests.labels(protocol="native", status=str(response.status_code)).inc()
    if response.status_code == 200:
        hub.metrics.ack_seconds.labels(protocol="native").observe(time.perf_counter() - started)
    return response


async def _ingest(hub: Hub, request: Request) -> Response:
    try:
        principal = authenticate(hub.keyring, request.headers)
    except AuthError as exc:
        return error_response(exc.status_code, str(exc.detail))
    if not principal.can_write():
        return error_response(403, f"a {principal.role} key cannot write events")
    header_stack = request.headers.get("x-stack-name") or None
    if header_stack is not None and not STACK_NAME_RE.fullmatch(header_stack):
        return error_response(400, "X-Stack-Name must match [a-z0-9][a-z0-9_.-]{0,62}")
    try:
        media = media_type(request.headers.get("content-type"))
        if media and media not in NATIVE_TYPES:
            raise UnsupportedMediaError(
                f"Content-Type {media!r} is not supported (application/json, application/x-ndjson)"
            )
        limit = hub.config.max_body_bytes
        body = await read_body(request, limit)
        body = decode_content_encoding(body, request.headers.get("content-encoding"), limit)
        parsed = parse_native(body)
        hub.spool.check_capacity()
        prepared = hub.pipeline.prepare(
            parsed.events,
            key_stack=principal.stack,
            default_stack=header_stack,
            rejected=parsed.rejected,
        )
    except BodyError as exc:
        return error_response(exc.status, str(exc))
    except ForbiddenStackError as exc:
        return error_response(403, str(exc))
    except SpoolFullError as exc:
        return error_response(503, str(exc))
    rejected = [{"index": i, "error": reason} for i, reason in prepared.rejected]
    hub.metrics.events_rejected.labels(protocol="native").inc(len(rejected))
    if prepared.rows == 0:
        return error_response(400, "no valid event in the request", accepted=0, rejected=rejected)
    try:
        await hub.spool.append(prepared.payload, prepared.rows)
    except (SpoolFullError, SpoolClosedError) as exc:
        return error_response(503, str(exc))
    except OSError as exc:  # disk full or failing: nothing was acknowledged, retry later
        return error_response(503, f"spool write failed: {exc.strerror or exc}")
    hub.metrics.events_accepted.labels(protocol="native").inc(prepared.rows)
    await hub.note_stacks(prepared.stacks)
    return JSONResponse({"accepted": prepared.rows, "rejected": rejected})
