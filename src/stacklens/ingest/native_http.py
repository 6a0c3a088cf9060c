"""Native ingest: ``POST /v1/events`` and the seed's ``POST /ingest``.

The adapter of the native protocol: :func:`decode` (a JSON object, a JSON array or
NDJSON → an event batch) and the answers (``{"accepted", "rejected"}``, errors as
``{"error": ...}``). Everything else is the ingest service's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from stacklens.ingest.batch import EventBatch, IngestError, IngestRequest
from stacklens.ingest.body import NATIVE_TYPES, media_type, parse_native
from stacklens.ingest.limits import check_items
from stacklens.ingest.service import INGEST, Adapter, IngestService, Outcome
from stacklens.ingest.steps import Steps

__all__ = ["NATIVE", "decode", "error_response", "router"]

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


def decode(request: IngestRequest) -> Steps[EventBatch]:
    """A native body → its events (``None`` for NDJSON lines that are not JSON)."""
    parsed = parse_native(request.body)
    check_items(len(parsed.events), request.limits, "events")
    yield  # the C parse is done; the pipeline's Python work follows
    return EventBatch(parsed.events, parsed.rejected)


def _check(headers: Mapping[str, str]) -> None:
    media = media_type(headers.get("content-type"))
    if media and media not in NATIVE_TYPES:
        raise IngestError(
            415, f"Content-Type {media!r} is not supported (application/json, application/x-ndjson)"
        )


def _render(outcome: Outcome, _: Mapping[str, str]) -> Response:
    rejected = [{"index": i, "error": reason} for i, reason in outcome.rejected]
    if outcome.accepted == 0:
        return error_response(400, "no valid event in the request", accepted=0, rejected=rejected)
    return JSONResponse({"accepted": outcome.accepted, "rejected": rejected})


def _render_error(error: IngestError, _: Mapping[str, str]) -> Response:
    return error_response(error.status, error.message)


NATIVE = Adapter(
    name="native", decode=decode, render=_render, render_error=_render_error, check=_check
)


@router.post("/v1/events", openapi_extra=_INGEST_DOC, tags=["ingest"])
@router.post("/ingest", openapi_extra=_INGEST_DOC, tags=["ingest"])
async def ingest_events(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """Ingest native events: a JSON object, a JSON array or NDJSON, gzip or not."""
    return await service.serve(request, NATIVE)
