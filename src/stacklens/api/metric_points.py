"""Stored OTel metrics: ``GET /api/v1/metrics`` (names) and ``/api/v1/metrics/{name}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from stacklens.api.auth import require
from stacklens.api.events import time_window, visible_stacks
from stacklens.api.parts import CLOCK, STORE
from stacklens.ids import Clock
from stacklens.metadata.keys import Principal
from stacklens.store.base import Store

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["query"])


@router.get("/metrics")
async def metric_names(
    principal: Annotated[Principal, Depends(require("read"))],
    store: Annotated[Store, Depends(STORE)],
    stack: Annotated[str | None, Query(max_length=63)] = None,
) -> dict[str, Any]:
    """Names of the OTel metrics received, with kind, unit, point count, last seen."""
    names = await run_in_threadpool(store.metric_names, visible_stacks(principal, stack))
    return {"metrics": names}


@router.get("/metrics/{name}")
async def metric_points(
    principal: Annotated[Principal, Depends(require("read"))],
    store: Annotated[Store, Depends(STORE)],
    clock: Annotated[Clock, Depends(CLOCK)],
    name: Annotated[str, Path(max_length=255)],
    stack: Annotated[str | None, Query(max_length=63)] = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> dict[str, Any]:
    """Points of one metric, newest first."""
    since_ns, until_ns = time_window(since, until, clock())
    points = await run_in_threadpool(
        lambda: store.query_metric_points(
            name=name,
            stacks=visible_stacks(principal, stack),
            since_ns=since_ns,
            until_ns=until_ns,
            limit=limit,
        )
    )
    return {"name": name, "points": points}
