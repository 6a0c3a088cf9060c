"""Stored OTel metrics: ``GET /api/v1/metrics`` (names) and ``/api/v1/metrics/{name}``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from stacklens.api.auth import require
from stacklens.api.events import time_window, visible_stacks
from stacklens.metadata.keys import Principal

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["query"])


@router.get("/metrics")
async def metric_names(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    stack: Annotated[str | None, Query(max_length=63)] = None,
) -> dict[str, Any]:
    """Names of the OTel metrics received, with kind, unit, point count, last seen."""
    hub: Hub = request.app.state.hub
    names = await run_in_threadpool(hub.store.metric_names, visible_stacks(principal, stack))
    return {"metrics": names}


@router.get("/metrics/{name}")
async def metric_points(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    name: Annotated[str, Path(max_length=255)],
    stack: Annotated[str | None, Query(max_length=63)] = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> dict[str, Any]:
    """Points of one metric, newest first."""
    hub: Hub = request.app.state.hub
    since_ns, until_ns = time_window(since, until, hub.clock())
    points = await run_in_threadpool(
        lambda: hub.store.query_metric_points(
            name=name,
            stacks=visible_stacks(principal, stack),
            since_ns=since_ns,
            until_ns=until_ns,
            limit=limit,
        )
    )
    return {"name": name, "points": points}
