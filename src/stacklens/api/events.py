"""``GET /api/v1/events``: stored events, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from stacklens.api.auth import require
from stacklens.api.parts import CLOCK, STORE
from stacklens.api.timeparse import parse_time_param
from stacklens.ids import Clock
from stacklens.metadata.keys import Principal
from stacklens.schema import EVENT_TYPES
from stacklens.store.base import EventQuery, Store

__all__ = ["router", "time_window", "visible_stacks"]

router = APIRouter(prefix="/api/v1", tags=["query"])


def visible_stacks(principal: Principal, requested: str | None) -> tuple[str, ...] | None:
    """The stacks a query may touch: a stack-bound key sees only its own (403 otherwise)."""
    if principal.stack is not None:
        if requested not in (None, principal.stack):
            raise HTTPException(403, f"this key can read stack {principal.stack!r} only")
        return (principal.stack,)
    return None if requested is None else (requested,)


def time_window(since: str | None, until: str | None, now_ns: int) -> tuple[int | None, int | None]:
    """``since``/``until`` query parameters as epoch ns (``None`` when absent); 400 when
    one cannot be read."""
    try:
        return (
            None if since is None else parse_time_param(since, now_ns, name="since"),
            None if until is None else parse_time_param(until, now_ns, name="until"),
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/events")
async def list_events(
    principal: Annotated[Principal, Depends(require("read"))],
    store: Annotated[Store, Depends(STORE)],
    clock: Annotated[Clock, Depends(CLOCK)],
    stack: Annotated[str | None, Query(max_length=63)] = None,
    event_type: Annotated[str | None, Query(max_length=32)] = None,
    session_id: Annotated[str | None, Query(max_length=16384)] = None,
    trace_id: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[
        str | None, Query(max_length=64, description="RFC 3339, epoch ns or e.g. 15m")
    ] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if event_type is not None and event_type not in EVENT_TYPES:
        raise HTTPException(400, f"event_type must be one of {sorted(EVENT_TYPES)}")
    since_ns, until_ns = time_window(since, until, clock())
    query = EventQuery(
        stacks=visible_stacks(principal, stack),
        event_type=event_type,
        session_id=session_id,
        trace_id=trace_id,
        since_ns=since_ns,
        until_ns=until_ns,
        limit=limit,
    )
    events = await run_in_threadpool(store.query_events, query)
    return {"events": events}
