"""Zipkin v2: ``POST /api/v2/spans`` (JSON), on the main port, answered 202.

The adapter of Zipkin's collector API: :func:`decode_spans` (a JSON list of v2 spans →
an event batch, through the OTLP span mapping, see :mod:`stacklens.ingest.zipkin`) and
the answers: ``202`` with ``{"accepted", "rejected"}`` (Zipkin clients read only the
status), ``400`` when no span could be kept, errors as ``{"error": ...}``. Zipkin's
protobuf and Thrift encodings are answered 415, naming JSON.

Zipkin has no authentication of its own, and most Zipkin senders cannot add a header
easily: the key goes where the other routes take it (``X-API-Key``, ``Authorization:
Bearer``), or as the password of HTTP Basic, which a client derives from the endpoint
URL (``http://zipkin:KEY@host:4320/api/v2/spans``: Python ``requests``, Go, curl).
Writes without a key are refused like everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from stacklens.ingest.batch import EventBatch, IngestError, IngestRequest
from stacklens.ingest.native_http import error_response
from stacklens.ingest.pipeline import with_placeholders
from stacklens.ingest.service import INGEST, Adapter, IngestService, Outcome
from stacklens.ingest.steps import Steps
from stacklens.ingest.zipkin import ZipkinDecodeError, zipkin_steps

__all__ = ["ZIPKIN", "decode_spans", "router"]

router = APIRouter()

_OTHER_ENCODINGS: Final = {
    "application/x-protobuf": "Zipkin protobuf",
    "application/protobuf": "Zipkin protobuf",
    "application/x-thrift": "Zipkin Thrift",
}

_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
    },
    "responses": {
        "202": {"description": "Accepted (durable); rejected spans listed by index."},
        "400": {"description": "No valid span, or a body that is not a JSON list of spans."},
        "401": {"description": "Missing, unknown or revoked key."},
        "403": {"description": "Key cannot write, or names another stack."},
        "413": {"description": "Body or span count over its limit."},
        "415": {"description": "Not JSON (Zipkin protobuf and Thrift are not taken)."},
        "503": {"description": "Spool backlog over its bound; retry after Retry-After."},
    },
}


def decode_spans(request: IngestRequest) -> Steps[EventBatch]:
    """A Zipkin v2 JSON body → its span events (``None`` where a span was refused)."""
    try:
        decoded = yield from zipkin_steps(
            request.body, namespace_as_stack=request.key_stack is None, limits=request.limits
        )
    except ZipkinDecodeError as exc:
        raise IngestError(400, f"cannot decode Zipkin spans: {exc}") from None
    return EventBatch(with_placeholders(decoded.events, decoded.rejected), decoded.rejected)


def _check(headers: Mapping[str, str]) -> None:
    media = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media in ("", "application/json"):
        return
    what = _OTHER_ENCODINGS.get(media, f"Content-Type {media[:60]!r}")
    raise IngestError(415, f"{what} is not supported: send Zipkin v2 JSON (application/json)")


def _render(outcome: Outcome, _: Mapping[str, str]) -> Response:
    rejected = [{"index": i, "error": reason} for i, reason in outcome.rejected]
    if outcome.accepted == 0 and rejected:
        return error_response(400, "no valid span in the request", accepted=0, rejected=rejected)
    return JSONResponse({"accepted": outcome.accepted, "rejected": rejected}, status_code=202)


def _render_error(error: IngestError, _: Mapping[str, str]) -> Response:
    return error_response(error.status, error.message)


ZIPKIN = Adapter(
    name="zipkin",
    decode=decode_spans,
    render=_render,
    render_error=_render_error,
    ok_status=202,
    check=_check,
)


@router.post("/api/v2/spans", openapi_extra=_DOC, tags=["ingest"], status_code=202)
async def zipkin_spans(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """Zipkin v2 spans (a JSON list), gzip or not: stored as OTLP spans of the same
    content would be."""
    return await service.serve(request, ZIPKIN)
