"""Native ingest: ``POST /v1/events`` and the seed's ``POST /ingest``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from stacklens.ingest.body import NATIVE_TYPES, media_type
from stacklens.ingest.common import IngestError, accept_request, request_limits
from stacklens.ingest.spool import SpoolClosedError, SpoolFullError
from stacklens.ingest.steps import drive
from stacklens.ingest.workers import native_steps

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = ["error_response", "router"]

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
    media = media_type(request.headers.get("content-type"))
    if media and media not in NATIVE_TYPES:
        return error_response(
            415, f"Content-Type {media!r} is not supported (application/json, application/x-ndjson)"
        )
    try:
        accepted = await accept_request(hub, request)
    except IngestError as exc:
        return error_response(exc.status, exc.message)
    key_stack, header_stack = accepted.principal.stack, accepted.header_stack
    limits = request_limits(hub.config)
    if hub.pipeline_pool is not None:
        result = await hub.pipeline_pool.prepare_native(
            accepted.body, key_stack=key_stack, default_stack=header_stack, limits=limits
        )
    else:
        result = await drive(
            native_steps(hub.pipeline, accepted.body, key_stack, header_stack, limits),
            size_bytes=len(accepted.body),
        )
    if result.error is not None:
        return error_response(result.error[2], result.error[1])
    for rule, count in result.redactions.items():
        hub.metrics.count_redaction(rule, count)
    assert result.prepared is not None
    prepared = result.prepared
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
