"""The LangSmith run API the ``langsmith`` SDKs (Python and JS) send to.

``GET /info`` advertises what is implemented: batch ingestion on ``/runs/multipart``
(``use_multipart_endpoint``), no compression flags (no zstd; gzip is read when a client
sends it anyway). ``POST /runs``, ``PATCH /runs/{id}``, ``POST /runs/batch``
(``{post: [...], patch: [...]}``), ``POST /runs/multipart`` and ``POST /feedback`` go
through the ingest service; the mapping and how a run is counted once are in
:mod:`stacklens.ingest.langsmith.runs`.

Auth is ``X-API-Key`` (a stacklens key). The stack is the key's (a key bound to the
stack, as ``stacklens stacks create --print-env`` prints) or ``X-Stack-Name``; the
LangSmith project (``session_name``) is kept as an attribute and never names a stack.
Answers: 202 when every item was stored; 400 listing the refused items (the others
are stored, and a retry is deduplicated); errors as ``{"detail": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any, Final

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from stacklens.ingest.batch import EventBatch, IngestError, IngestRequest, NotStoredError
from stacklens.ingest.body import media_type
from stacklens.ingest.langsmith.multipart import MultipartError, boundary_of, parse_parts
from stacklens.ingest.langsmith.runs import feedback_event, plan_runs
from stacklens.ingest.limits import check_items
from stacklens.ingest.service import INGEST, Adapter, IngestService, Outcome
from stacklens.ingest.steps import Steps

__all__ = [
    "BATCH",
    "FEEDBACK",
    "MULTIPART",
    "RUN",
    "decode_batch",
    "decode_feedback",
    "decode_multipart",
    "decode_run",
    "router",
]

router = APIRouter(tags=["ingest"])

Headers = Mapping[str, str]

#: The part names of one run operation besides its main part.
_RUN_FIELDS: Final = frozenset({"inputs", "outputs", "events", "extra", "error", "serialized"})


def _json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, ValueError, RecursionError) as err:
        raise IngestError(400, f"invalid JSON: {err}"[:300]) from None


def _runs_batch(operations: list[tuple[str, Any]], request: IngestRequest) -> EventBatch:
    check_items(len(operations), request.limits, "runs")
    planned = plan_runs(operations)
    return EventBatch(list(planned.events), planned.rejected)


def decode_run(request: IngestRequest) -> Steps[EventBatch]:
    """``POST /runs``: one run."""
    run = _json(request.body)
    yield
    return _runs_batch([("post", run)], request)


def decode_patch(run_id: str, request: IngestRequest) -> Steps[EventBatch]:
    """``PATCH /runs/{run_id}``: the run's update (its id from the path)."""
    run = _json(request.body)
    if not isinstance(run, dict):
        raise IngestError(400, "a run update must be a JSON object")
    if run.get("id") not in (None, run_id):
        raise IngestError(400, "the body's id is not the id in the path")
    yield
    return _runs_batch([("patch", {**run, "id": run_id})], request)


def decode_batch(request: IngestRequest) -> Steps[EventBatch]:
    """``POST /runs/batch``: ``{post: [...], patch: [...]}``."""
    document = _json(request.body)
    if not isinstance(document, dict):
        raise IngestError(400, 'the body must be an object {"post": [...], "patch": [...]}')
    operations: list[tuple[str, Any]] = []
    for kind in ("post", "patch"):
        runs = document.get(kind) or []
        if not isinstance(runs, list):
            raise IngestError(400, f"{kind} must be a list of runs")
        operations += [(kind, run) for run in runs]
    yield
    return _runs_batch(operations, request)


def decode_multipart(request: IngestRequest) -> Steps[EventBatch]:
    """``POST /runs/multipart``: run operations and feedback, one part per piece."""
    try:
        parts = parse_parts(request.body, boundary_of(request.content_type))
    except MultipartError as exc:
        raise IngestError(400, f"cannot read the multipart body: {exc}") from None
    check_items(len(parts), request.limits, "parts")
    yield
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    feedbacks: list[Any] = []
    for part in parts:
        kind, _, rest = part.name.partition(".")
        if kind == "attachment":
            continue  # files are not stored
        if kind not in ("post", "patch", "feedback") or not rest:
            raise IngestError(400, f"unknown part {part.name[:80]!r}")
        value = _json(part.content)
        if kind == "feedback":
            feedbacks.append(value)
            continue
        run_id, _, field = rest.partition(".")
        run = runs.setdefault((kind, run_id), {"id": run_id})
        if not field:
            if not isinstance(value, dict):
                raise IngestError(400, f"part {part.name[:80]!r} must be a JSON object")
            run.update({k: v for k, v in value.items() if k not in ("id",)})
        elif field in _RUN_FIELDS:
            run[field] = value
        else:
            raise IngestError(400, f"unknown part {part.name[:80]!r}")
    batch = _runs_batch([(kind, run) for (kind, _), run in runs.items()], request)
    items = list(batch.items)
    rejected = list(batch.rejected)
    for feedback in feedbacks:
        try:
            items.append(feedback_event(feedback, request.received_ns))
        except ValueError as err:
            rejected.append((len(items), str(err)))
            items.append(None)
    return EventBatch(items, rejected)


def decode_feedback(request: IngestRequest) -> Steps[EventBatch]:
    """``POST /feedback``: one feedback."""
    body = _json(request.body)
    yield
    try:
        return EventBatch([feedback_event(body, request.received_ns)], [])
    except ValueError as err:
        raise IngestError(400, str(err)) from None


# ---------------------------------------------------------------- answers


def _error(status: int, detail: str, **extra: Any) -> Response:
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


def _render(outcome: Outcome, _: Headers) -> Response:
    if outcome.rejected:
        refused = [{"index": i, "error": reason} for i, reason in outcome.rejected[:50]]
        return _error(
            400,
            f"{len(outcome.rejected)} items refused ({outcome.accepted} rows stored)",
            rejected=refused,
        )
    return JSONResponse({"message": f"{outcome.accepted} rows stored"}, status_code=202)


def _render_error(error: IngestError, _: Headers) -> Response:
    if isinstance(error, NotStoredError):
        return _error(error.status, f"not stored, retry: {error.detail}")
    return _error(error.status, error.message)


def _check_json(headers: Headers) -> None:
    media = media_type(headers.get("content-type"))
    if media and media != "application/json":
        raise IngestError(415, f"Content-Type {media!r} is not supported (application/json)")


def _check_multipart(headers: Headers) -> None:
    try:
        boundary_of(headers.get("content-type"))
    except MultipartError as exc:
        raise IngestError(415, str(exc)) from None


def _adapter(name: str, decode: Any, check: Any = _check_json) -> Adapter:
    return Adapter(
        name=name,
        decode=decode,
        render=_render,
        render_error=_render_error,
        ok_status=202,
        check=check,
    )


RUN = _adapter("langsmith_runs", decode_run)
BATCH = _adapter("langsmith_runs", decode_batch)
MULTIPART = _adapter("langsmith_runs", decode_multipart, _check_multipart)
FEEDBACK = _adapter("langsmith_feedback", decode_feedback)


@router.get("/info")
def langsmith_info(request: Request) -> dict[str, Any]:
    """What the LangSmith SDKs read first: only the endpoints implemented here."""
    service = INGEST.get(request.app)
    return {
        "version": "0.10.0",
        "batch_ingest_config": {
            "use_multipart_endpoint": True,
            "size_limit": min(100, service.limits.max_items),
            "size_limit_bytes": service.max_body_bytes,
            "scale_up_qsize_trigger": 1000,
            "scale_up_nthreads_limit": 16,
            "scale_down_nempty_trigger": 4,
        },
        "instance_flags": {},
    }


@router.post("/runs", response_class=Response)
async def langsmith_create_run(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """One LangSmith run (``Client.create_run``)."""
    return await service.serve(request, RUN)


@router.patch("/runs/{run_id}", response_class=Response)
async def langsmith_update_run(
    run_id: str, request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """A LangSmith run's update (``Client.update_run``); the one with ``end_time`` counts."""
    adapter = _adapter("langsmith_runs", partial(decode_patch, run_id))
    return await service.serve(request, adapter)


@router.post("/runs/batch", response_class=Response)
async def langsmith_batch(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """LangSmith batch ingestion: ``{post: [...], patch: [...]}``."""
    return await service.serve(request, BATCH)


@router.post("/runs/multipart", response_class=Response)
async def langsmith_multipart(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """LangSmith multipart ingestion (runs, their inputs/outputs, feedback)."""
    return await service.serve(request, MULTIPART)


@router.post("/feedback", response_class=Response)
async def langsmith_feedback(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """LangSmith feedback on a run (``Client.create_feedback``)."""
    return await service.serve(request, FEEDBACK)
