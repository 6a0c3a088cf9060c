"""The analytics query API: dashboards, usage, latency, errors, sessions, users, costs,
budgets, billing export and a user's own data export.

Common filters: ``stack``, ``model``, ``agent``, ``user``, ``since``/``until`` (RFC 3339,
epoch ns or a duration ago like ``24h``, rounded down to the hour — to the step when the
step is finer; ``until`` exclusive; default the last 24 whole hours including the
current one) and ``step`` (seconds, for time series). A read key
bound to a stack sees that stack only (403 for another).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from stacklens.analytics.backfill import backfill
from stacklens.analytics.budgets import BudgetStore
from stacklens.analytics.costs import COST_DIMENSIONS
from stacklens.analytics.export import (
    billing_csv,
    billing_parquet,
    billing_records,
    parse_month,
    user_export,
)
from stacklens.analytics.pricing import Pricer
from stacklens.analytics.queries import HOUR_NS, MEASURES, Filters
from stacklens.analytics.service import Analytics, budget_report
from stacklens.api.auth import require
from stacklens.api.events import visible_stacks
from stacklens.api.timeparse import parse_time_param
from stacklens.metadata.keys import Principal

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = ["analytics_for", "budgets_for", "pricer_for", "router"]

router = APIRouter(prefix="/api/v1", tags=["analytics"])

MAX_BUCKETS: Final = 10_000
_RELATIVE: Final = re.compile(r"\d+(ms|s|m|h|d|w)")
_PSEUDONYM_PREFIX: Final = "u_"

Stack = Annotated[str | None, Query(max_length=63, description="Only this stack.")]
Model = Annotated[str | None, Query(max_length=256, description="Only this model.")]
Agent = Annotated[str | None, Query(max_length=256, description="Only this agent.")]
User = Annotated[
    str | None, Query(max_length=256, description="Only this (pseudonymized) user id.")
]
Since = Annotated[str | None, Query(max_length=64, description="RFC 3339, epoch ns or e.g. 24h")]
Until = Annotated[str | None, Query(max_length=64, description="Exclusive end; as since.")]
Step = Annotated[int, Query(ge=60, le=31 * 86400, description="Bucket width in seconds.")]
Limit = Annotated[int, Query(ge=1, le=10_000)]
Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def analytics_for(request: Request) -> Analytics:
    """The hub's :class:`Analytics` (``hub.analytics`` once wired; else made here)."""
    state = request.app.state
    found = getattr(state.hub, "analytics", None) or getattr(state, "analytics", None)
    if found is None:
        hub: Hub = state.hub
        found = Analytics(hub.store.cursor, clock=hub.clock)
        state.analytics = found
    assert isinstance(found, Analytics)
    return found


def pricer_for(request: Request) -> Pricer:
    state = request.app.state
    found = getattr(state.hub, "pricer", None) or getattr(state, "pricer", None)
    if found is None:
        found = Pricer()
        state.pricer = found
    assert isinstance(found, Pricer)
    return found


def budgets_for(request: Request) -> BudgetStore:
    state = request.app.state
    found = getattr(state, "budgets", None)
    if found is None:
        hub: Hub = state.hub
        found = BudgetStore(hub.metadata.engine, clock=hub.clock)
        state.budgets = found
    assert isinstance(found, BudgetStore)
    return found


def _filters(
    analytics: Analytics,
    principal: Principal,
    *,
    stack: str | None,
    model: str | None,
    agent: str | None,
    user: str | None,
    since: str | None,
    until: str | None,
    step: int,
) -> Filters:
    now = analytics.clock()
    try:
        until_ns = now - now % HOUR_NS + HOUR_NS if until is None else parse_time_param(until, now)
        since_ns = until_ns - 24 * HOUR_NS if since is None else parse_time_param(since, now)
        if since is not None and _RELATIVE.fullmatch(since.strip()):
            # "7d" means the last 7 days in whole steps (whole hours for hourly steps),
            # so dashboards read the rollups; exact times are answered exactly.
            grain = min(step, 3600) * 10**9 if step % 3600 else HOUR_NS
            since_ns -= since_ns % grain
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if since_ns >= until_ns:
        raise HTTPException(400, "since must be before until")
    if (until_ns - since_ns) // (step * 10**9) > MAX_BUCKETS:
        raise HTTPException(400, f"more than {MAX_BUCKETS} buckets: use a larger step")
    return Filters(
        since_ns=since_ns,
        until_ns=until_ns,
        stacks=visible_stacks(principal, stack),
        model=model,
        agent=agent,
        user=user,
        step_s=step,
    )


def _window(f: Filters) -> dict[str, Any]:
    from stacklens.analytics.service import format_ns

    return {"since": format_ns(f.since_ns), "until": format_ns(f.until_ns), "step": f.step_s}


@router.get("/overview", summary="Platform overview (seed 000 §6.1)")
async def overview(
    request: Request,
    principal: Reader,
    *,
    stack: Stack = None,
    model: Model = None,
    agent: Agent = None,
    since: Since = None,
    until: Until = None,
    step: Step = 3600,
) -> dict[str, Any]:
    """Active stacks (an event in the last 15 min), messages per step, tokens by model,
    error rate (errors / message/llm_call/tool_use events), top agents, cost."""
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=model,
        agent=agent,
        user=None,
        since=since,
        until=until,
        step=step,
    )
    return {"window": _window(f), **await run_in_threadpool(a.overview, f)}


@router.get("/stacks/{stack}/dashboard", summary="Per-stack dashboard (seed 000 §6.2)")
async def stack_dashboard(
    request: Request,
    principal: Reader,
    *,
    stack: Annotated[str, Path(max_length=63)],
    model: Model = None,
    agent: Agent = None,
    since: Since = None,
    until: Until = None,
    step: Step = 3600,
) -> dict[str, Any]:
    """Sessions over time, token usage, tool usage with error rates, response time
    p50/p95/p99 (llm_call duration), error log, active sessions."""
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=model,
        agent=agent,
        user=None,
        since=since,
        until=until,
        step=step,
    )
    return {"stack": stack, "window": _window(f), **await run_in_threadpool(a.stack_dashboard, f)}


@router.get("/usage", summary="Any usage measures over time")
async def usage_series(
    request: Request,
    principal: Reader,
    *,
    measures: Annotated[
        str, Query(max_length=400, description=f"Comma-separated: {', '.join(MEASURES)}")
    ] = "events",
    group_by: Annotated[
        Literal["stack_name", "event_type", "model", "agent", "tool", "role"] | None, Query()
    ] = None,
    stack: Stack = None,
    model: Model = None,
    agent: Agent = None,
    user: User = None,
    since: Since = None,
    until: Until = None,
    step: Step = 3600,
) -> dict[str, Any]:
    wanted = tuple(m.strip() for m in measures.split(",") if m.strip())
    unknown = [m for m in wanted if m not in MEASURES]
    if unknown or not wanted:
        raise HTTPException(400, f"measures must be among {list(MEASURES)}")
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=model,
        agent=agent,
        user=user,
        since=since,
        until=until,
        step=step,
    )
    rows = await run_in_threadpool(a.series, f, wanted, group_by=group_by)
    return {"window": _window(f), "measures": list(wanted), "series": rows}


@router.get("/tokens", summary="Token usage and cost by a dimension")
async def tokens(
    request: Request,
    principal: Reader,
    *,
    by: Annotated[Literal["model", "agent", "stack_name"], Query()] = "model",
    stack: Stack = None,
    model: Model = None,
    agent: Agent = None,
    user: User = None,
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=model,
        agent=agent,
        user=user,
        since=since,
        until=until,
        step=3600,
    )
    return {"window": _window(f), "by": by, "rows": await run_in_threadpool(a.tokens, f, by)}


@router.get("/tools", summary="Tool usage breakdown with error rate")
async def tools(
    request: Request,
    principal: Reader,
    *,
    stack: Stack = None,
    agent: Agent = None,
    user: User = None,
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=None,
        agent=agent,
        user=user,
        since=since,
        until=until,
        step=3600,
    )
    return {"window": _window(f), "tools": await run_in_threadpool(a.tools, f)}


@router.get("/latency", summary="Response time percentiles (llm_call duration_ms)")
async def latency(
    request: Request,
    principal: Reader,
    *,
    by_model: bool = False,
    stack: Stack = None,
    model: Model = None,
    agent: Agent = None,
    user: User = None,
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=model,
        agent=agent,
        user=user,
        since=since,
        until=until,
        step=3600,
    )
    result = await run_in_threadpool(a.latency, f, by_model=by_model)
    return {"window": _window(f), **result}


@router.get("/errors", summary="Error rate and error log, newest first")
async def errors(
    request: Request,
    principal: Reader,
    *,
    stack: Stack = None,
    model: Model = None,
    agent: Agent = None,
    user: User = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=model,
        agent=agent,
        user=user,
        since=since,
        until=until,
        step=3600,
    )

    def run() -> dict[str, Any]:
        return {**a.error_rate(f), "errors_log": a.error_log(f, limit)}

    return {"window": _window(f), **await run_in_threadpool(run)}


@router.get("/sessions", summary="Sessions overlapping the window, newest first")
async def list_sessions(
    request: Request,
    principal: Reader,
    *,
    stack: Stack = None,
    model: Model = None,
    agent: Agent = None,
    user: User = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> dict[str, Any]:
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=model,
        agent=agent,
        user=user,
        since=since,
        until=until,
        step=3600,
    )
    rows = await run_in_threadpool(a.sessions, f, limit, offset)
    return {"window": _window(f), "sessions": rows}


@router.get("/sessions/{session_id}", summary="One session: summary and timeline")
async def one_session(
    request: Request,
    principal: Reader,
    *,
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
async def users(
    request: Request,
    principal: Reader,
    *,
    stack: Stack = None,
    model: Model = None,
    agent: Agent = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 1000,
) -> dict[str, Any]:
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=model,
        agent=agent,
        user=None,
        since=since,
        until=until,
        step=3600,
    )
    return {"window": _window(f), "users": await run_in_threadpool(a.users, f, limit)}


@router.get("/costs", summary="Cost by stack/model/provider/agent/user/day, with projections")
async def cost_report(
    request: Request,
    principal: Reader,
    *,
    by: Annotated[str, Query(description=f"One of {', '.join(COST_DIMENSIONS)}")] = "day",
    stack: Stack = None,
    model: Model = None,
    agent: Agent = None,
    user: User = None,
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    """Whole UTC days; the projection covers today and the current month whatever
    the window (daily: today / fraction of day elapsed; month-end: month-to-date / days
    elapsed x days in month)."""
    if by not in COST_DIMENSIONS:
        raise HTTPException(400, f"by must be one of {list(COST_DIMENSIONS)}")
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=model,
        agent=agent,
        user=user,
        since=since,
        until=until,
        step=3600,
    )
    return {"window": _window(f), **await run_in_threadpool(a.costs, f, by)}


@router.get("/costs/unpriced", summary="Models seen with tokens but no known price")
async def unpriced(
    request: Request,
    principal: Reader,
    *,
    stack: Stack = None,
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    a = analytics_for(request)
    f = _filters(
        a,
        principal,
        stack=stack,
        model=None,
        agent=None,
        user=None,
        since=since or "3650d",
        until=until,
        step=86400,
    )
    return {"window": _window(f), "models": await run_in_threadpool(a.unpriced, f)}


@router.post("/costs/backfill", summary="Recompute stored costs since a time (admin)")
async def cost_backfill(
    request: Request,
    _: Admin,
    *,
    since: Annotated[str, Query(max_length=64, description="RFC 3339 / YYYY-MM-DD")],
) -> dict[str, Any]:
    a = analytics_for(request)
    is_date = len(since) == 10 and since[:4].isdigit() and "T" not in since
    text = since + "T00:00:00Z" if is_date else since
    try:
        since_ns = parse_time_param(text, a.clock())
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    hub: Hub = request.app.state.hub
    pricer = pricer_for(request)

    def run() -> dict[str, Any]:
        store: Any = hub.store
        writer = getattr(store, "writer", None)
        if writer is not None:
            with writer() as con:
                result = backfill(con, pricer, since_ns)
        else:
            with store._write_lock:
                result = backfill(store._con, pricer, since_ns)
        return {
            "examined": result.examined,
            "repriced": result.repriced,
            "unpriced": result.unpriced,
        }

    return await run_in_threadpool(run)


@router.get("/budgets", summary="Budgets with month-to-date utilization")
async def list_budgets(
    request: Request, principal: Reader, *, stack: Stack = None
) -> dict[str, Any]:
    a, store = analytics_for(request), budgets_for(request)
    stacks = visible_stacks(principal, stack)

    def run() -> list[dict[str, Any]]:
        return budget_report(a, store.list(stacks))

    return {"budgets": await run_in_threadpool(run)}


@router.put("/budgets/{stack}", summary="Set a stack's monthly budget (admin)")
async def set_budget(
    request: Request,
    _: Admin,
    *,
    stack: Annotated[str, Path(max_length=63)],
    body: Annotated[
        dict[str, Any], Body(examples=[{"monthly_usd": 100.0, "monthly_tokens": None}])
    ],
) -> dict[str, Any]:
    usd, tokens_limit = body.get("monthly_usd"), body.get("monthly_tokens")
    bad_usd = usd is not None and (isinstance(usd, bool) or not isinstance(usd, int | float))
    bad_tokens = tokens_limit is not None and (
        isinstance(tokens_limit, bool) or not isinstance(tokens_limit, int)
    )
    if bad_usd or bad_tokens:
        raise HTTPException(400, "monthly_usd must be a number and monthly_tokens an integer")
    store = budgets_for(request)
    try:
        budget = await run_in_threadpool(
            lambda: store.set(
                stack, monthly_usd=None if usd is None else float(usd), monthly_tokens=tokens_limit
            )
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    [report] = await run_in_threadpool(budget_report, analytics_for(request), [budget])
    return report


@router.delete("/budgets/{stack}", summary="Remove a stack's budget (admin)")
async def delete_budget(
    request: Request, _: Admin, *, stack: Annotated[str, Path(max_length=63)]
) -> dict[str, Any]:
    if not await run_in_threadpool(budgets_for(request).delete, stack):
        raise HTTPException(404, "no budget for that stack")
    return {"deleted": stack}


@router.get("/billing/export", summary="A month of billing records as CSV or Parquet")
async def billing_export(
    request: Request,
    principal: Reader,
    *,
    month: Annotated[str, Query(max_length=7, description="YYYY-MM")],
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
    stack: Stack = None,
) -> Response:
    try:
        parse_month(month)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    a = analytics_for(request)
    stacks = visible_stacks(principal, stack)

    def run() -> bytes:
        rows = billing_records(a, month, stacks)
        return billing_csv(rows) if format == "csv" else billing_parquet(rows)

    body = await run_in_threadpool(run)
    media = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
    filename = f"stacklens-billing-{month}.{format}"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/users/{user_id}/export", summary="Everything stored about one user (seed 000 §5.3)")
async def export_user(
    request: Request,
    principal: Reader,
    *,
    user_id: Annotated[str, Path(max_length=256)],
    stack: Stack = None,
) -> dict[str, Any]:
    """``user_id`` is the stored pseudonym (``u_…``) or the raw id, which the hub
    pseudonymizes with its key to find the data."""
    a = analytics_for(request)
    hub: Hub = request.app.state.hub
    stacks = visible_stacks(principal, stack)
    candidates = [user_id]
    if not user_id.startswith(_PSEUDONYM_PREFIX):
        candidates.insert(0, hub.redactor.pseudonymize_user(user_id))

    def run() -> dict[str, Any]:
        result: dict[str, Any] = {}
        for candidate in candidates:
            result = user_export(a, candidate, stacks)
            if result["sessions"] or result["billing"] or result["events"]:
                break
        return result

    return await run_in_threadpool(run)
