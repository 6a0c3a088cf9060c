"""Loki push: ``POST /loki/api/v1/push`` (JSON, or protobuf with snappy).

Stream labels give stack, service and level; ``X-Scope-OrgID`` (Loki's tenant header)
names the stack. Entries are checked the way Loki checks them — too old, too new,
line too long — and, like Loki, the valid entries of a batch are stored while the
answer is 400 listing the refused ones (so Promtail does not resend the batch).
Success is 204, as from Loki.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from stacklens.ingest.common import (
    IngestError,
    accept_request,
    json_sent_as_protobuf,
    request_limits,
)
from stacklens.ingest.limits import RequestLimitError
from stacklens.ingest.loki import LokiDecodeError
from stacklens.ingest.loki.push import push_steps
from stacklens.ingest.pipeline import ForbiddenStackError, with_placeholders
from stacklens.ingest.spool import SpoolClosedError, SpoolFullError
from stacklens.ingest.steps import drive

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = ["check_entry_times", "router"]

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


@router.post("/loki/api/v1/push")
async def loki_push(request: Request) -> Response:
    """Loki push API (what Promtail, Grafana Alloy and Fluent Bit's loki output send)."""
    hub: Hub = request.app.state.hub
    started = time.perf_counter()
    response = await _push(hub, request)
    hub.metrics.requests.labels(protocol="loki", status=str(response.status_code)).inc()
    if response.status_code == 204:
        hub.metrics.ack_seconds.labels(protocol="loki").observe(time.perf_counter() - started)
    return response


async def _push(hub: Hub, request: Request) -> Response:
    try:
        accepted = await accept_request(
            hub, request, stack_header="x-scope-orgid", undo_encoding=False
        )
        decoded = await drive(
            push_steps(
                accepted.body,
                request.headers.get("content-type"),
                request.headers.get("content-encoding"),
                hub.config.max_body_bytes,
                request_limits(hub.config),
            ),
            # snappy-compressed protobuf decodes to several times its size
            size_bytes=4 * len(accepted.body),
        )
    except IngestError as exc:
        return _text(exc.status, exc.message)
    except RequestLimitError as exc:
        return _text(exc.status, str(exc))
    except LokiDecodeError as exc:
        hint = json_sent_as_protobuf(accepted.body, request.headers.get("content-type"))
        return _text(400, f"cannot decode Loki push: {hint or exc}")
    events = with_placeholders(decoded.events, decoded.rejected)
    too_old_or_new = check_entry_times(events, hub.clock())
    try:
        prepared = await drive(
            hub.pipeline.prepare_steps(
                events,
                key_stack=accepted.principal.stack,
                default_stack=accepted.header_stack,
                rejected=decoded.rejected + too_old_or_new,
            ),
            items=len(events),
        )
    except ForbiddenStackError as exc:
        return _text(403, str(exc))
    hub.metrics.events_rejected.labels(protocol="loki").inc(len(prepared.rejected))
    if prepared.rows:
        try:
            await hub.spool.append(prepared.payload, prepared.rows)
        except (SpoolFullError, SpoolClosedError, OSError) as exc:
            return _text(503, f"not stored, retry: {exc}")
        hub.metrics.events_accepted.labels(protocol="loki").inc(prepared.rows)
        await hub.note_stacks(prepared.stacks)
    if prepared.rejected:
        lines = [f"entry {i}: {_loki_reason(reason)}" for i, reason in prepared.rejected[:20]]
        stored = f"{prepared.rows} entries stored; " if prepared.rows else ""
        return _text(400, stored + f"{len(prepared.rejected)} refused:\n" + "\n".join(lines))
    return Response(status_code=204)
