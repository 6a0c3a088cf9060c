"""OTLP/HTTP: ``POST /v1/traces``, ``/v1/logs``, ``/v1/metrics`` (protobuf or JSON).

Spans and logs take the same path as native events (normalize → privacy → spool);
metric points go to their own spool stream and the ``metric_points`` table. Answers
follow the OTLP/HTTP spec: the Export*ServiceResponse in the request's encoding,
``partial_success`` when items were rejected, ``google.rpc.Status`` bodies for errors,
``Retry-After`` on 503.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from stacklens.ingest import otlp
from stacklens.ingest.common import (
    IngestError,
    accept_request,
    json_sent_as_protobuf,
    request_limits,
)
from stacklens.ingest.limits import RequestLimitError
from stacklens.ingest.metric_rows import prepare_points
from stacklens.ingest.pipeline import ForbiddenStackError, with_placeholders
from stacklens.ingest.spool import Spool, SpoolClosedError, SpoolFullError
from stacklens.ingest.steps import drive

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = ["router"]

router = APIRouter(tags=["ingest"])

#: google.rpc.Code values for the statuses we answer.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 413: 3, 415: 3, 429: 8, 503: 14}

Kind = Literal["traces", "logs", "metrics"]


def _status(status: int, message: str, content_type: str | None) -> Response:
    media = otlp.response_media_type(content_type)
    headers = {"Retry-After": "1"} if status in (429, 503) else {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="stacklens"'
    body = otlp.status_body(_GRPC_CODES.get(status, 2), message, media)
    return Response(body, status_code=status, media_type=media, headers=headers)


def _summary(rejected: list[tuple[int, str]]) -> str:
    shown = "; ".join(f"item {i}: {reason}" for i, reason in rejected[:5])
    more = f" (and {len(rejected) - 5} more)" if len(rejected) > 5 else ""
    return shown + more


async def _export(hub: Hub, request: Request, kind: Kind) -> Response:
    content_type = request.headers.get("content-type")
    try:
        media = otlp.media_type(content_type)
    except otlp.UnsupportedMediaType as exc:
        return _status(415, str(exc), content_type)
    try:
        accepted = await accept_request(hub, request)
    except IngestError as exc:
        return _status(exc.status, exc.message, content_type)
    key_stack = accepted.principal.stack
    namespace_as_stack = key_stack is None
    limits = request_limits(hub.config)
    try:
        if kind == "metrics":
            decoded_points = await drive(
                otlp.metric_steps(accepted.body, media, namespace_as_stack, limits),
                size_bytes=len(accepted.body),
            )
            prepared = prepare_points(
                decoded_points.points,
                redactor=hub.redactor,
                key_stack=key_stack,
                default_stack=accepted.header_stack,
                received_ns=hub.clock(),
            )
            payload, rows = prepared.payload, prepared.rows
            rejected = sorted(decoded_points.rejected + prepared.rejected)
            stacks: frozenset[str] = frozenset()
            spool: Spool = hub.metrics_spool
        else:
            steps = otlp.trace_steps if kind == "traces" else otlp.log_steps
            decoded = await drive(
                steps(accepted.body, media, namespace_as_stack, limits),
                size_bytes=len(accepted.body),
            )
            prepared_events = await drive(
                hub.pipeline.prepare_steps(
                    with_placeholders(decoded.events, decoded.rejected),
                    key_stack=key_stack,
                    default_stack=accepted.header_stack,
                    rejected=decoded.rejected,
                ),
                items=len(decoded.events),
            )
            payload, rows = prepared_events.payload, prepared_events.rows
            rejected = prepared_events.rejected
            stacks = prepared_events.stacks
            spool = hub.spool
    except otlp.UnsupportedMediaType as exc:
        return _status(415, str(exc), content_type)
    except otlp.OtlpDecodeError as exc:
        hint = json_sent_as_protobuf(accepted.body, content_type)
        if hint is not None:  # answered as JSON: a protobuf error body would be unreadable
            return _status(400, f"cannot decode OTLP {kind}: {hint}", "application/json")
        return _status(400, f"cannot decode OTLP {kind}: {exc}", content_type)
    except RequestLimitError as exc:
        return _status(exc.status, str(exc), content_type)
    except ForbiddenStackError as exc:
        return _status(403, str(exc), content_type)
    hub.metrics.events_rejected.labels(protocol=f"otlp_{kind}").inc(len(rejected))
    if rows == 0 and rejected:
        return _status(400, f"every item was rejected: {_summary(rejected)}", content_type)
    if rows:
        try:
            await spool.append(payload, rows)
        except (SpoolFullError, SpoolClosedError, OSError) as exc:
            return _status(503, f"not stored, retry: {exc}", content_type)
        hub.metrics.events_accepted.labels(protocol=f"otlp_{kind}").inc(rows)
        await hub.note_stacks(stacks)
    body = otlp.export_response(kind, len(rejected), _summary(rejected), media)
    return Response(body, media_type=otlp.response_media_type(content_type))


def _route(kind: Kind) -> object:
    async def export(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        started = time.perf_counter()
        response = await _export(hub, request, kind)
        hub.metrics.requests.labels(protocol=f"otlp_{kind}", status=str(response.status_code)).inc()
        if response.status_code == 200:
            hub.metrics.ack_seconds.labels(protocol=f"otlp_{kind}").observe(
                time.perf_counter() - started
            )
        return response

    export.__name__ = f"otlp_{kind}"
    export.__doc__ = f"OTLP/HTTP {kind} export (protobuf or JSON, gzip or not)."
    return export


for _kind in ("traces", "logs", "metrics"):
    router.add_api_route(f"/v1/{_kind}", _route(_kind), methods=["POST"], response_class=Response)  # type: ignore[arg-type]
