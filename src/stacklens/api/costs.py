"""Costs and billing API: cost reports with projections, unpriced models, cost
backfill, budgets, billing export and a user's own data export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from stacklens.analytics.backfill import backfill
from stacklens.analytics.budgets import budget_report
from stacklens.analytics.costs import COST_DIMENSIONS
from stacklens.analytics.export import (
    billing_csv,
    billing_parquet,
    billing_records,
    user_export,
)
from stacklens.api.analytics_params import (
    Reader,
    Since,
    Stack,
    Until,
    Window,
    analytics_for,
    budgets_for,
    make_filters,
    pricer_for,
    window_json,
)
from stacklens.api.authz import mutation
from stacklens.api.events import visible_stacks
from stacklens.api.parts import STORE, Part
from stacklens.api.timeparse import parse_month_param, parse_time_param
from stacklens.metadata.keys import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["costs"])
_PSEUDONYM_PREFIX: Final = "u_"


class BudgetBody(BaseModel):
    """A monthly budget; bounded so a 23-digit number is a 400, not a database overflow."""

    monthly_usd: Annotated[float | None, Field(strict=True, ge=0, le=1e12)] = None
    monthly_tokens: Annotated[int | None, Field(strict=True, ge=0, le=10**15)] = None


#: Backfill reprices every stack's events: an admin key bound to a stack may not.
#: The hub's user pseudonymization (the same keyed hash ingest applies).
PSEUDONYMS = Part[Callable[[str], str]]("pseudonyms")

PlatformAdmin = Annotated[Principal, Depends(mutation("global"))]
#: A budget belongs to the stack in the path: a bound admin key sets its own only.
StackAdmin = Annotated[Principal, Depends(mutation("stack", stack_param="stack"))]


@router.get("/costs", summary="Cost by stack/model/provider/agent/user/day, with projections")
async def cost_report(
    request: Request,
    f: Window,
    by: Annotated[str, Query(description=f"One of {', '.join(COST_DIMENSIONS)}")] = "day",
) -> dict[str, Any]:
    """Whole UTC days; the projection covers today and the current month whatever
    the window (daily: today / fraction of day elapsed; month-end: month-to-date / days
    elapsed x days in month)."""
    if by not in COST_DIMENSIONS:
        raise HTTPException(400, f"by must be one of {list(COST_DIMENSIONS)}")
    a = analytics_for(request)
    return {"window": window_json(f), **await run_in_threadpool(a.costs, f, by)}


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
    f = make_filters(a, principal, stack=stack, since=since or "3650d", until=until, step=86400)
    return {"window": window_json(f), "models": await run_in_threadpool(a.unpriced, f)}


@router.post("/costs/backfill", summary="Recompute stored costs since a time (admin)")
async def cost_backfill(
    request: Request,
    _: PlatformAdmin,
    *,
    since: Annotated[str, Query(max_length=64, description="RFC 3339 / YYYY-MM-DD")],
) -> dict[str, Any]:
    a = analytics_for(request)
    is_date = len(since) == 10 and since[:4].isdigit() and "T" not in since
    text = since + "T00:00:00Z" if is_date else since
    try:
        since_ns = parse_time_param(text, a.clock(), name="since")
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    store = STORE.get(request.app)
    pricer = pricer_for(request)

    def run() -> dict[str, Any]:
        result = backfill(store, pricer, since_ns, now_ns=a.clock())
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
    _: StackAdmin,
    *,
    stack: Annotated[str, Path(max_length=63)],
    body: Annotated[BudgetBody, Body(examples=[{"monthly_usd": 100.0, "monthly_tokens": None}])],
) -> dict[str, Any]:
    usd, tokens_limit = body.monthly_usd, body.monthly_tokens
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
    request: Request, _: StackAdmin, *, stack: Annotated[str, Path(max_length=63)]
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
        parse_month_param(month)
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
    stacks = visible_stacks(principal, stack)
    candidates = [user_id]
    if not user_id.startswith(_PSEUDONYM_PREFIX):
        candidates.insert(0, PSEUDONYMS.get(request.app)(user_id))

    def run() -> dict[str, Any]:
        result: dict[str, Any] = {}
        for candidate in candidates:
            result = user_export(a, candidate, stacks)
            if result["sessions"] or result["billing"] or result["events"]:
                break
        return result

    return await run_in_threadpool(run)
