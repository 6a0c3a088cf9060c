"""Prometheus remote write 1.0: ``POST /prometheus/api/v1/write``.

What Prometheus's ``remote_write``, Grafana Alloy's ``prometheus.remote_write`` and the
OTel collector's ``prometheusremotewrite`` exporter send: a snappy-compressed protobuf
``WriteRequest`` (decoded by :mod:`stacklens.ingest.prometheus.remote_write`), stored as
metric points through the one ingest service (same keys, privacy, spool and backlog).

The stack: a key bound to a stack decides it (a ``stack_name`` label or an
``X-Stack-Name`` naming another is a 403); otherwise the series' ``stack_name`` label (an
external label, typically), else ``X-Stack-Name``.

Answers, as the senders read them (Prometheus retries 5xx and, when asked, 429; every
other 4xx drops the batch): 204 when every sample was stored; 400 when the body is not
a remote-write request or some series were refused (the rest stored: a retry could not
change the verdict, and retried samples would be deduplicated anyway); 401/403 for the
key; 413 past the request bounds; 415 for another encoding or remote write 2.0; 503 with
``Retry-After`` when the spool is full or cannot write (nothing stored: retry). Never
another 5xx. Bodies are plain text, as Prometheus logs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from stacklens.ingest.batch import IngestError, IngestRequest, NotStoredError, PointBatch
from stacklens.ingest.prometheus.remote_write import RemoteWriteError, write_steps
from stacklens.ingest.service import INGEST, Adapter, IngestService, Outcome
from stacklens.ingest.steps import Steps

__all__ = ["REMOTE_WRITE", "decode", "router"]

router = APIRouter(tags=["ingest"])

Headers = Mapping[str, str]


def _text(status: int, message: str) -> Response:
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="stacklens"'}
    return PlainTextResponse(message + "\n", status_code=status, headers=headers)


def _check(headers: Headers) -> None:
    """Remote write 1.0 only: snappy, protobuf ``prometheus.WriteRequest``."""
    encoding = (headers.get("content-encoding") or "snappy").strip().lower()
    if encoding != "snappy":
        raise IngestError(
            415, f"Content-Encoding must be snappy for remote write, not {encoding[:40]!r}"
        )
    content_type = (headers.get("content-type") or "application/x-protobuf").lower()
    media, _, parameters = content_type.partition(";")
    if media.strip() != "application/x-protobuf":
        raise IngestError(
            415, f"Content-Type must be application/x-protobuf, not {media.strip()[:60]!r}"
        )
    proto = parameters.replace(" ", "").partition("proto=")[2].split(";")[0]
    if proto not in ("", "prometheus.writerequest"):
        raise IngestError(
            415,
            f"remote write message {proto[:60]!r} is not supported: "
            "send remote write 1.0 (prometheus.WriteRequest)",
        )


def decode(request: IngestRequest) -> Steps[PointBatch]:
    """A remote-write body → its samples as metric points."""
    try:
        decoded = yield from write_steps(
            request.body, request.max_body_bytes, request.limits, request.received_ns
        )
    except RemoteWriteError as exc:
        raise IngestError(400, f"cannot decode remote write request: {exc}") from None
    return PointBatch(decoded.points, decoded.rejected)


def _render(outcome: Outcome, _: Headers) -> Response:
    if outcome.rejected:
        shown = [f"item {i}: {reason}" for i, reason in outcome.rejected[:20]]
        more = f"\n(and {len(outcome.rejected) - 20} more)" if len(outcome.rejected) > 20 else ""
        stored = f"{outcome.accepted} samples stored; " if outcome.accepted else ""
        return _text(400, stored + f"{len(outcome.rejected)} refused:\n" + "\n".join(shown) + more)
    return Response(status_code=204)


def _render_error(error: IngestError, _: Headers) -> Response:
    if isinstance(error, NotStoredError):
        return _text(503, f"not stored, retry: {error.detail}")
    # Only backpressure is a 5xx (Prometheus retries those); anything else is the data's.
    status = error.status if error.status < 500 or error.status == 503 else 503
    return _text(status, error.message)


REMOTE_WRITE = Adapter(
    name="prometheus_remote_write",
    decode=decode,
    render=_render,
    render_error=_render_error,
    ok_status=204,
    check=_check,
    undo_encoding=False,  # snappy is the protocol's own, undone by the decoder
    size_factor=4,  # snappy-compressed protobuf decodes to several times its size
)


@router.post("/prometheus/api/v1/write")
async def prometheus_remote_write(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """Prometheus remote write 1.0 (Prometheus, Grafana Alloy, the OTel collector)."""
    return await service.serve(request, REMOTE_WRITE)
