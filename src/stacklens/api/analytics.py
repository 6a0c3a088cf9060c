"""The analytics query API: platform overview, per-stack dashboard, usage series,
tokens, tools, latency, errors, sessions and users (filters: see
:mod:`stacklens.api.analytics_params`). Costs, budgets and exports live in
:mod:`stacklens.api.costs`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from stacklens.analytics.queries import MEASURES
from stacklens.api.analytics_params import (
    Reader,
    SeriesWindow,
    Stack,
    StackWindow,
    Window,
    analytics_for,
    window_json,
)
from stacklens.api.events import visible_stacks

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["analytics"])
Limit = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/overview", summary="Platform overview (seed 000 §6.1)")
async def overview(request: Request, f: SeriesWindow) -> dict[str, Any]:
    """Active stacks (an event in the last 15 min), messages per step, tokens by model,
    error rate (errors / message/llm_call/tool_use events), top agents, cost."""
    a = analytics_for(request)
    return {"window": window_json(f), **await run_in_threadpool(a.overview, f)}


@router.get("/stacks/{stack}/dashboard", summary="Per-stack dashboard (seed 000 §6.2)")
async def stack_dashboard(
    request: Request, stack: Annotated[str, Path(max_length=63)], f: StackWindow
) -> dict[str, Any]:
    """Sessions over time, token usage, tool usage with error rates, response time
    p50/p95/p99 (llm_call duration), error log, active sessions."""
    a = analytics_for(request)
    result = await run_in_threadpool(a.stack_dashboard, f)
    return {"stack": stack, "window": window_json(f), **result}


@router.get("/usage", summary="Any usage measures over time")
async def usage_series(
    request: Request,
    f: SeriesWindow,
    measures: Annotated[
        str, Query(max_length=400, description=f"Comma-separated: {', '.join(MEASURES)}")
    ] = "events",
    group_by: Annotated[
        Literal["stack_name", "event_type", "model", "agent", "tool", "role"] | None, Query()
    ] = None,
) -> dict[str, Any]:
    wanted = tuple(m.strip() for m in measures.split(",") if m.strip())
    unknown = [m for m in wanted if m not in MEASURES]
    if unknown or not wanted:
        raise HTTPException(400, f"measures must be among {list(MEASURES)}")
    a = analytics_for(request)
    rows = await run_in_threadpool(a.series, f, wanted, group_by=group_by)
    return {"window": window_json(f), "measures": list(wanted), "series": rows}


@router.get("/tokens", summary="Token usage and cost by a dimension")
async def tokens(
    request: Request,
    f: Window,
    by: Annotated[Literal["model", "agent", "stack_name"], Query()] = "model",
) -> dict[str, Any]:
    rows = await run_in_threadpool(analytics_for(request).tokens, f, by)
    return {"window": window_json(f), "by": by, "rows": rows}


@router.get("/tools", summary="Tool usage breakdown with error rate")
async def tools(request: Request, f: Window) -> dict[str, Any]:
    return {
        "window": window_json(f),
        "tools": await run_in_threadpool(analytics_for(request).tools, f),
    }


@router.get("/latency", summary="Response time percentiles (llm_call duration_ms)")
async def latency(request: Request, f: Window, by_model: bool = False) -> dict[str, Any]:
    result = await run_in_threadpool(analytics_for(request).latency, f, by_model=by_model)
    return {"window": window_json(f), **result}


@router.get("/errors", summary="Error rate and error log, newest first")
async def errors(request: Request, f: Window, limit: Limit = 100) -> dict[str, Any]:
    a = analytics_for(request)

    def run() -> dict[str, Any]:
        return {**a.error_rate(f), "errors_log": a.error_log(f, limit)}

    return {"window": window_json(f), **await run_in_threadpool(run)}


@router.get("/sessions", summary="Sessions overlapping the window, newest first")
async def list_sessions(
    request: Request,
    f: Window,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> dict[str, Any]:
    rows = await run_in_threadpool(analytics_for(request).sessions, f, limit, offset)
    return {"window": window_json(f), "sessions": rows}


@router.get("/sessions/{session_id}", summary="One session: summary and timeline")
async def one_session(
    request: Request,
    principal: Reader,
    session_id: Annotated[str, Path(max_length=16384)],
    stack: Stack = None,
    limit: Limit = 5000,
) -> dict[str, Any]:
    a = analytics_for(request)
    found = await run_in_threadpool(a.session, session_id, visible_stacks(principal, stack), limit)
    if not found:
        raise HTTPException(404, "no such session")
    return {"session_id": session_id, "stacks": found}


@router.get("/users", summary="Usage per (pseudonymized) user")
async def users(request: Request, f: Window, limit: Limit = 1000) -> dict[str, Any]:
    return {
        "window": window_json(f),
        "users": await run_in_threadpool(analytics_for(request).users, f, limit),
    }
