"""The Langfuse API the Langfuse SDKs send to: ingestion, OTel traces, the auth check.

* ``POST /api/public/ingestion``: the JS v3 / Python v2 SDKs' batch of envelopes
  (:mod:`stacklens.ingest.langfuse.ingestion`), answered 207 with ``successes`` and
  ``errors`` per envelope id, as Langfuse answers (an unknown type or a bad envelope is
  an error entry, the rest of the batch is stored).
* ``POST /api/public/otel/v1/traces``: the OTel-based SDKs (Python v3+, JS v4+). The
  OTLP/HTTP traces decoder, then the ``langfuse.*`` attributes
  (:mod:`stacklens.ingest.langfuse.otel`); answered as OTLP/HTTP answers.
* ``GET /api/public/projects``: what ``Langfuse.auth_check()`` reads (one project: the
  stack the credentials write to).
* ``POST /api/public/scores``: scores from the Python SDK v4+ (mapped as score-create).

Auth is HTTP Basic ``publicKey:secretKey``; the secret key is a stacklens API key. The
public key names the stack, as ``X-Stack-Name`` does: for a key not bound to a stack it
is the stack written to; for a bound key it must be that stack's name (any other name
is a 403, so a public key never reaches another stack). A public key that is a real
Langfuse one (``pk-lf-...``) names no stack: the key's binding (or ``X-Stack-Name``)
decides, so an existing Langfuse setup works with only the secret key and URL changed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from stacklens.api.auth import KEYS, authenticate
from stacklens.ingest.batch import EventBatch, IngestError, IngestRequest, NotStoredError
from stacklens.ingest.body import NATIVE_TYPES, media_type
from stacklens.ingest.langfuse.ingestion import (
    LangfuseBodyError,
    envelope_ids,
    parse_batch,
    plan,
)
from stacklens.ingest.langfuse.otel import apply_langfuse_attributes
from stacklens.ingest.limits import check_items
from stacklens.ingest.otlp_http import ADAPTERS as OTLP_ADAPTERS
from stacklens.ingest.otlp_http import decode_traces
from stacklens.ingest.service import INGEST, Adapter, IngestService, Outcome
from stacklens.ingest.steps import Steps
from stacklens.schema import STACK_NAME_RE

__all__ = [
    "INGESTION",
    "OTEL_TRACES",
    "SCORES",
    "decode_ingestion",
    "decode_otel",
    "decode_scores",
    "router",
    "stack_of",
]

router = APIRouter(tags=["ingest"])

Headers = Mapping[str, str]

#: The prefix of Langfuse's own public keys: such a key names no stacklens stack.
LANGFUSE_KEY_PREFIX = "pk-lf-"


def public_key(headers: Headers) -> str | None:
    """The user part of ``Authorization: Basic``, or ``None``."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0].strip() or None


def stack_of(headers: Headers) -> str | None:
    """The stack a Langfuse request names: the public key (see the module docstring)."""
    public = public_key(headers)
    if public is None or public.startswith(LANGFUSE_KEY_PREFIX):
        return headers.get("x-stack-name") or None
    if not STACK_NAME_RE.fullmatch(public):
        raise IngestError(
            400,
            "the Langfuse public key names the stack: it must match "
            "[a-z0-9][a-z0-9_.-]{0,62} (or be a pk-lf-... key to use the key's stack)",
        )
    return public


# ---------------------------------------------------------------- ingestion


def decode_ingestion(request: IngestRequest) -> Steps[EventBatch]:
    """An ingestion body → one event slot per envelope."""
    try:
        batch = parse_batch(request.body)
    except LangfuseBodyError as exc:
        raise IngestError(400, str(exc)) from None
    check_items(len(batch), request.limits, "envelopes")
    yield
    planned = plan(batch)
    # A late update's second row goes after the envelopes' slots (see _answer).
    items = [*planned.events, *(event for _, event in planned.extra)]
    return EventBatch(items, planned.rejected)


def _error(status: int, message: str) -> Response:
    headers = {"Retry-After": "1"} if status in (429, 503) else {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="stacklens"'
    body = {"message": message, "error": _ERROR_NAMES.get(status, "Error")}
    return JSONResponse(body, status_code=status, headers=headers)


_ERROR_NAMES = {
    400: "InvalidRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    503: "ServiceUnavailableError",
}


def _check_json(headers: Headers) -> None:
    media = media_type(headers.get("content-type"))
    if media and media not in NATIVE_TYPES:
        raise IngestError(415, f"Content-Type {media!r} is not supported (application/json)")


def _answer(outcome: Outcome, request: IngestRequest, _: Headers) -> Response:
    batch = parse_batch(request.body)  # parsed fine once already
    ids = envelope_ids(batch)
    owners = [position for position, _ in plan(batch).extra] if len(ids) < _last(outcome) else []
    refused: dict[int, str] = {}
    for index, reason in outcome.rejected:
        # A second row's refusal is its envelope's.
        refused.setdefault(index if index < len(ids) else owners[index - len(ids)], reason)
    successes = [{"id": ids[i], "status": 201} for i in range(len(ids)) if i not in refused]
    errors = [
        {"id": ids[i], "status": 400, "message": reason, "error": reason}
        for i, reason in sorted(refused.items())
    ]
    return JSONResponse({"successes": successes, "errors": errors}, status_code=207)


def _last(outcome: Outcome) -> int:
    return max((index for index, _ in outcome.rejected), default=-1) + 1


def _render_unused(outcome: Outcome, _: Headers) -> Response:  # pragma: no cover
    return JSONResponse({"accepted": outcome.accepted}, status_code=207)


def _render_error(error: IngestError, _: Headers) -> Response:
    if isinstance(error, NotStoredError):
        return _error(error.status, f"not stored, retry: {error.detail}")
    return _error(error.status, error.message)


INGESTION = Adapter(
    name="langfuse",
    decode=decode_ingestion,
    render=_render_unused,
    answer=_answer,
    render_error=_render_error,
    ok_status=207,
    check=_check_json,
    stack_of=stack_of,
)


@router.post("/api/public/ingestion", response_class=Response)
async def langfuse_ingestion(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """Langfuse ingestion API (the Langfuse JS v3 and Python v2 SDKs)."""
    return await service.serve(request, INGESTION)


# ---------------------------------------------------------------- scores


def _score_envelopes(body: bytes, received_ns: int) -> list[Any]:
    try:
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError) as err:
        raise IngestError(400, f"invalid JSON: {err}"[:300]) from None
    items = document if isinstance(document, list) else [document]
    envelopes: list[Any] = []
    for index, item in enumerate(items):
        score_id = item.get("id") if isinstance(item, dict) else None
        envelopes.append(
            {
                "id": score_id if isinstance(score_id, str) and score_id else f"#{index}",
                "type": "score-create",
                "timestamp": received_ns,
                "body": item,
            }
        )
    return envelopes


def decode_scores(request: IngestRequest) -> Steps[EventBatch]:
    """``POST /api/public/scores``: a score, or a list of them (the Python SDK v4+)."""
    envelopes = _score_envelopes(request.body, request.received_ns)
    check_items(len(envelopes), request.limits, "scores")
    yield
    planned = plan(envelopes)  # scores have no second rows
    return EventBatch(list(planned.events), planned.rejected)


def _answer_scores(outcome: Outcome, request: IngestRequest, _: Headers) -> Response:
    document = msgspec.json.decode(request.body)  # parsed fine once already
    if not isinstance(document, list):
        if outcome.rejected:
            return _error(400, outcome.rejected[0][1])
        return JSONResponse({"id": envelope_ids(_score_envelopes(request.body, 0))[0]})
    if not outcome.rejected:
        return JSONResponse({"message": "Accepted"}, status_code=202)
    errors = [{"message": f"score {i}: {reason}"} for i, reason in outcome.rejected]
    body = {"accepted": outcome.accepted, "rejected": len(outcome.rejected), "errors": errors}
    return JSONResponse(body, status_code=207)


SCORES = Adapter(
    name="langfuse",
    decode=decode_scores,
    render=_render_unused,
    answer=_answer_scores,
    render_error=_render_error,
    ok_status=202,
    check=_check_json,
    stack_of=stack_of,
)


@router.post("/api/public/scores", response_class=Response)
async def langfuse_scores(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """Langfuse scores (the Python SDK v4+ sends them here, not to the ingestion API)."""
    return await service.serve(request, SCORES)


# ---------------------------------------------------------------- OTel


def decode_otel(request: IngestRequest) -> Steps[EventBatch]:
    """OTLP/HTTP traces, then the ``langfuse.*`` attributes on each span."""
    batch = yield from decode_traces(request)
    items: list[Any] = [
        None if item is None else apply_langfuse_attributes(item) for item in batch.items
    ]
    return EventBatch(items, batch.rejected)


_OTLP = OTLP_ADAPTERS["traces"]
OTEL_TRACES = Adapter(
    name="langfuse_otel",
    decode=decode_otel,
    render=_OTLP.render,
    render_error=_OTLP.render_error,
    check=_OTLP.check,
    stack_of=stack_of,
)


@router.post("/api/public/otel/v1/traces", response_class=Response)
async def langfuse_otel_traces(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """OTLP/HTTP traces from Langfuse's OTel-based SDKs (Python v3+, JS v4+)."""
    return await service.serve(request, OTEL_TRACES)


# ---------------------------------------------------------------- auth check


@router.get("/api/public/projects")
def langfuse_projects(request: Request) -> dict[str, Any]:
    """The project the credentials write to (``Langfuse.auth_check()`` reads it). Any
    valid key may ask: the SDKs hold an ingest key."""
    principal = authenticate(KEYS.get(request.app), request.headers)
    try:
        named = stack_of(request.headers)
    except IngestError as exc:
        return {"data": [], "error": exc.message}
    stack = principal.stack or named
    if stack is None or (principal.stack is not None and named not in (None, principal.stack)):
        # No stack named, or one this key cannot write to: no project for these keys.
        return {"data": []}
    return {
        "data": [
            {
                "id": stack,
                "name": stack,
                "organization": {"id": "stacklens", "name": "stacklens"},
                "metadata": {},
            }
        ]
    }
