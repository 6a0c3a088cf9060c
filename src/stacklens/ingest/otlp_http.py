"""OTLP/HTTP: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics`` (protobuf or JSON).

The adapter of OTLP/HTTP: a decoder per signal and the answers the OTLP/HTTP spec asks
for. Spans and log records decode to event batches (the events sink, as native
events); metric points to a point batch (the metric-points sink). Answers: the
Export*ServiceResponse in the request's encoding, ``partial_success`` when items were
rejected, ``google.rpc.Status`` bodies for errors, ``Retry-After`` on 503. A body that
says protobuf but is JSON is answered in JSON, so the client can read why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stacklens.ingest import otlp
from stacklens.ingest.batch import (
    Decoder,
    EventBatch,
    IngestError,
    IngestRequest,
    NotStoredError,
    PointBatch,
)
from stacklens.ingest.body import json_sent_as_protobuf
from stacklens.ingest.otlp.content import JSON
from stacklens.ingest.pipeline import with_placeholders
from stacklens.ingest.service import INGEST, Adapter, IngestService, Outcome
from stacklens.ingest.steps import Steps

__all__ = [
    "ADAPTERS",
    "decode_logs",
    "decode_metrics",
    "decode_traces",
    "router",
    "summarize_rejections",
]

router = APIRouter(tags=["ingest"])

#: google.rpc.Code values for the statuses we answer.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 413: 3, 415: 3, 429: 8, 503: 14}

Kind = Literal["traces", "logs", "metrics"]
Headers = Mapping[str, str]


class _AnswerInJson(IngestError):
    """Answered as JSON whatever the request's Content-Type (a protobuf error body
    would be unreadable to a client that sent JSON)."""


# ---------------------------------------------------------------- decoding


def decode_traces(request: IngestRequest) -> Steps[EventBatch]:
    return _decode_events("traces", otlp.trace_steps, request)


def decode_logs(request: IngestRequest) -> Steps[EventBatch]:
    return _decode_events("logs", otlp.log_steps, request)


def decode_metrics(request: IngestRequest) -> Steps[PointBatch]:
    with _otlp_errors("metrics", request):
        decoded = yield from otlp.metric_steps(
            request.body, _media(request.content_type), request.key_stack is None, request.limits
        )
    return PointBatch(decoded.points, decoded.rejected)


def _decode_events(
    kind: Kind,
    steps: Callable[[bytes, str, bool, Any], Steps[otlp.DecodeResult]],
    request: IngestRequest,
) -> Steps[EventBatch]:
    # A key bound to a stack decides the stack; otherwise service.namespace may.
    with _otlp_errors(kind, request):
        decoded = yield from steps(
            request.body, _media(request.content_type), request.key_stack is None, request.limits
        )
    return EventBatch(with_placeholders(decoded.events, decoded.rejected), decoded.rejected)


def _media(content_type: str | None) -> str:
    try:
        return otlp.media_type(content_type)
    except otlp.UnsupportedMediaType as exc:
        raise IngestError(415, str(exc)) from None


@contextmanager
def _otlp_errors(kind: Kind, request: IngestRequest) -> Iterator[None]:
    """OTLP decode errors as IngestErrors, worded for ``kind``."""
    try:
        yield
    except otlp.UnsupportedMediaType as exc:
        raise IngestError(415, str(exc)) from None
    except otlp.OtlpDecodeError as exc:
        hint = json_sent_as_protobuf(request.body, request.content_type)
        if hint is not None:
            raise _AnswerInJson(400, f"cannot decode OTLP {kind}: {hint}") from None
        raise IngestError(400, f"cannot decode OTLP {kind}: {exc}") from None


# ---------------------------------------------------------------- answers


def _status(status: int, message: str, content_type: str | None) -> Response:
    media = otlp.response_media_type(content_type)
    headers = {"Retry-After": "1"} if status in (429, 503) else {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="stacklens"'
    body = otlp.status_body(_GRPC_CODES.get(status, 2), message, media)
    return Response(body, status_code=status, media_type=media, headers=headers)


def summarize_rejections(rejected: list[tuple[int, str]]) -> str:
    shown = "; ".join(f"item {i}: {reason}" for i, reason in rejected[:5])
    more = f" (and {len(rejected) - 5} more)" if len(rejected) > 5 else ""
    return shown + more


def _check(headers: Headers) -> None:
    _media(headers.get("content-type"))


def _render(kind: Kind, outcome: Outcome, headers: Headers) -> Response:
    content_type = headers.get("content-type")
    rejected = outcome.rejected
    if outcome.accepted == 0 and rejected:
        return _status(
            400, f"every item was rejected: {summarize_rejections(rejected)}", content_type
        )
    media = otlp.response_media_type(content_type)
    body = otlp.export_response(kind, len(rejected), summarize_rejections(rejected), media)
    return Response(body, media_type=media)


def _render_error(error: IngestError, headers: Headers) -> Response:
    if isinstance(error, _AnswerInJson):
        return _status(error.status, error.message, JSON)
    if isinstance(error, NotStoredError):
        message = f"not stored, retry: {error.detail}"
        return _status(error.status, message, headers.get("content-type"))
    return _status(error.status, error.message, headers.get("content-type"))


def _adapter(kind: Kind, decoder: Decoder) -> Adapter:
    return Adapter(
        name=f"otlp_{kind}",
        decode=decoder,
        render=partial(_render, kind),
        render_error=_render_error,
        check=_check,
    )


ADAPTERS: dict[Kind, Adapter] = {
    "traces": _adapter("traces", decode_traces),
    "logs": _adapter("logs", decode_logs),
    "metrics": _adapter("metrics", decode_metrics),
}


def _route(kind: Kind) -> object:
    adapter = ADAPTERS[kind]

    async def export(
        request: Request, service: Annotated[IngestService, Depends(INGEST)]
    ) -> Response:
        return await service.serve(request, adapter)

    export.__name__ = f"otlp_{kind}"
    export.__doc__ = f"OTLP/HTTP {kind} export (protobuf or JSON, gzip or not)."
    return export


for _kind in ("traces", "logs", "metrics"):
    router.add_api_route(f"/v1/{_kind}", _route(_kind), methods=["POST"], response_class=Response)  # type: ignore[arg-type]
