"""Shared by the analytics routes: filter parameters, the filters dependency, and
the hub's analytics, pricer and budget store.

Common filters: ``stack``, ``model``, ``agent``, ``user``, ``since``/``until`` (RFC 3339,
epoch ns or a duration ago like ``24h``, rounded down to the hour — to the step when the
step is finer; ``until`` exclusive; default the last 24 whole hours including the
current one) and ``step`` (seconds, for time series). A read key bound to a stack sees
that stack only (403 for another).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import Depends, HTTPException, Path, Query, Request

from stacklens.analytics.analytics_service import Analytics
from stacklens.analytics.budgets import BudgetStore
from stacklens.analytics.pricing import Pricer
from stacklens.analytics.queries import HOUR_NS, Filters
from stacklens.api.auth import require
from stacklens.api.events import visible_stacks
from stacklens.api.parts import Part
from stacklens.api.timeparse import parse_time_param
from stacklens.metadata.keys import Principal

__all__ = [
    "ANALYTICS",
    "BUDGETS",
    "PRICER",
    "Admin",
    "Reader",
    "SeriesWindow",
    "Stack",
    "StackWindow",
    "Window",
    "analytics_for",
    "budgets_for",
    "make_filters",
    "pricer_for",
    "window_json",
]

MAX_BUCKETS: Final = 10_000
_RELATIVE: Final = re.compile(r"\d+(ms|s|m|h|d|w)")

Stack = Annotated[str | None, Query(max_length=63, description="Only this stack.")]
Model = Annotated[str | None, Query(max_length=256, description="Only this model.")]
Agent = Annotated[str | None, Query(max_length=256, description="Only this agent.")]
User = Annotated[
    str | None, Query(max_length=256, description="Only this (pseudonymized) user id.")
]
Since = Annotated[str | None, Query(max_length=64, description="RFC 3339, epoch ns or e.g. 24h")]
Until = Annotated[str | None, Query(max_length=64, description="Exclusive end; as since.")]
Step = Annotated[int, Query(ge=60, le=31 * 86400, description="Bucket width in seconds.")]
Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]


#: The hub's analytics, its pricer and its budget store, provided by the composition root.
ANALYTICS = Part[Analytics]("analytics")
PRICER = Part[Pricer]("pricer")
BUDGETS = Part[BudgetStore]("budgets")


def analytics_for(request: Request) -> Analytics:
    return ANALYTICS.get(request.app)


def pricer_for(request: Request) -> Pricer:
    return PRICER.get(request.app)


def budgets_for(request: Request) -> BudgetStore:
    return BUDGETS.get(request.app)


def make_filters(
    analytics: Analytics,
    principal: Principal,
    *,
    stack: str | None,
    model: str | None = None,
    agent: str | None = None,
    user: str | None = None,
    since: str | None = None,
    until: str | None = None,
    step: int = 3600,
) -> Filters:
    now = analytics.clock()
    try:
        until_ns = (
            now - now % HOUR_NS + HOUR_NS
            if until is None
            else parse_time_param(until, now, name="until")
        )
        since_ns = (
            until_ns - 24 * HOUR_NS if since is None else parse_time_param(since, now, name="since")
        )
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


def _series_window(
    request: Request,
    principal: Reader,
    stack: Stack = None,
    model: Model = None,
    agent: Agent = None,
    user: User = None,
    since: Since = None,
    until: Until = None,
    step: Step = 3600,
) -> Filters:
    return make_filters(
        analytics_for(request),
        principal,
        stack=stack,
        model=model,
        agent=agent,
        user=user,
        since=since,
        until=until,
        step=step,
    )


def _window(
    request: Request,
    principal: Reader,
    stack: Stack = None,
    model: Model = None,
    agent: Agent = None,
    user: User = None,
    since: Since = None,
    until: Until = None,
) -> Filters:
    # The same filters without a step parameter: breakdowns and reports are hourly.
    return _series_window(request, principal, stack, model, agent, user, since, until, 3600)


def _stack_window(
    request: Request,
    principal: Reader,
    stack: Annotated[str, Path(max_length=63)],
    model: Model = None,
    agent: Agent = None,
    since: Since = None,
    until: Until = None,
    step: Step = 3600,
) -> Filters:
    return make_filters(
        analytics_for(request),
        principal,
        stack=stack,
        model=model,
        agent=agent,
        since=since,
        until=until,
        step=step,
    )


#: The common filters, hourly (breakdowns and reports).
Window = Annotated[Filters, Depends(_window)]
#: The common filters with ``step`` (time series).
SeriesWindow = Annotated[Filters, Depends(_series_window)]
#: The per-stack dashboard's filters (the stack from the path).
StackWindow = Annotated[Filters, Depends(_stack_window)]


def window_json(f: Filters) -> dict[str, Any]:
    from stacklens.analytics.analytics_service import format_ns

    return {"since": format_ns(f.since_ns), "until": format_ns(f.until_ns), "step": f.step_s}
