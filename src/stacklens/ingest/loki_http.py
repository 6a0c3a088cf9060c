"""Loki push: ``POST /loki/api/v1/push`` (JSON, or protobuf with snappy).

Stream labels give stack, service and level; ``X-Scope-OrgID`` (Loki's tenant header)
names the stack. Entries are checked the way Loki checks them — too old, too new,
line too long — and, like Loki, the valid entries of a batch are stored while the
answer is 400 listing the refused ones (so Promtail does not resend the batch).
Success is 204, as from Loki. The adapter of the Loki push protocol: :func:`decode`
(which undoes Content-Encoding itself, so its errors are worded as Loki's) and the
plain-text answers; the rest is the ingest service's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from stacklens.ingest.batch import EventBatch, IngestError, IngestRequest, NotStoredError
from stacklens.ingest.body import json_sent_as_protobuf
from stacklens.ingest.loki import LokiDecodeError
from stacklens.ingest.loki.push import push_steps
from stacklens.ingest.pipeline import with_placeholders
from stacklens.ingest.service import INGEST, Adapter, IngestService, Outcome
from stacklens.ingest.steps import Steps

__all__ = ["LOKI", "check_entry_times", "decode", "router"]

router = APIRouter(tags=["ingest"])

#: Loki's defaults: reject_old_samples_max_age 1 week, creation_grace_period 10 minutes.
MAX_AGE_NS = 7 * 86400 * 10**9
MAX_AHEAD_NS = 10 * 60 * 10**9


def _text(status: int, message: str) -> Response:
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    return PlainTextResponse(message + "\n", status_code=status, headers=headers)


def check_entry_times(events: list[Any], now_ns: int) -> list[tuple[int, str]]:
    """Loki's timestamp checks; refused entries are replaced by ``None`` in place."""
    rejected: list[tuple[int, str]] = []
    for index, event in enumerate(events):
        if event is None:
            continue
        ts = event.get("timestamp")
        if isinstance(ts, int) and ts < now_ns - MAX_AGE_NS:
            rejected.append(
                (
                    index,
                    f"entry has timestamp too old: {ts}, "
                    f"oldest acceptable timestamp is: {now_ns - MAX_AGE_NS}"
                    + _unit_hint(ts, now_ns),
                )
            )
            events[index] = None
        elif isinstance(ts, int) and ts > now_ns + MAX_AHEAD_NS:
            rejected.append((index, f"entry has timestamp too new: {ts}"))
            events[index] = None
    return rejected


def _unit_hint(ts: int, now_ns: int) -> str:
    """Loki timestamps are nanoseconds; a current time in a coarser unit is a common slip."""
    for unit, scale in (("seconds", 10**9), ("milliseconds", 10**6), ("microseconds", 10**3)):
        if abs(ts * scale - now_ns) <= MAX_AGE_NS:
            return f" (it looks like {unit}: Loki timestamps are nanoseconds since the epoch)"
    return ""


#: Loki clients have no X-Stack-Name: say how a Loki push names its stack.
_NO_STACK = (
    "no stack for this entry: send X-Scope-OrgID (Loki's tenant header) or a stack_name "
    "label, or push with a key bound to a stack"
)


def _loki_reason(reason: str) -> str:
    return _NO_STACK if reason.startswith("stack_name is required") else reason


def decode(request: IngestRequest) -> Steps[EventBatch]:
    """A push body → its entries as log events, Loki's timestamp checks applied."""
    try:
        decoded = yield from push_steps(
            request.body,
            request.content_type,
            request.content_encoding,
            request.max_body_bytes,
            request.limits,
        )
    except LokiDecodeError as exc:
        hint = json_sent_as_protobuf(request.body, request.content_type)
        raise IngestError(400, f"cannot decode Loki push: {hint or exc}") from None
    events = with_placeholders(decoded.events, decoded.rejected)
    too_old_or_new = check_entry_times(events, request.received_ns)
    return EventBatch(events, decoded.rejected + too_old_or_new)


def _render(outcome: Outcome, _: Mapping[str, str]) -> Response:
    if outcome.rejected:
        lines = [f"entry {i}: {_loki_reason(reason)}" for i, reason in outcome.rejected[:20]]
        stored = f"{outcome.accepted} entries stored; " if outcome.accepted else ""
        return _text(400, stored + f"{len(outcome.rejected)} refused:\n" + "\n".join(lines))
    return Response(status_code=204)


def _render_error(error: IngestError, _: Mapping[str, str]) -> Response:
    if isinstance(error, NotStoredError):
        return _text(error.status, f"not stored, retry: {error.detail}")
    return _text(error.status, error.message)


LOKI = Adapter(
    name="loki",
    decode=decode,
    render=_render,
    render_error=_render_error,
    ok_status=204,
    stack_header="x-scope-orgid",
    undo_encoding=False,
    size_factor=4,  # snappy-compressed protobuf decodes to several times its size
)


@router.post("/loki/api/v1/push")
async def loki_push(
    request: Request, service: Annotated[IngestService, Depends(INGEST)]
) -> Response:
    """Loki push API (what Promtail, Grafana Alloy and Fluent Bit's loki output send)."""
    return await service.serve(request, LOKI)
