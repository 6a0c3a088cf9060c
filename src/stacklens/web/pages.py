"""What each console page shows: pure functions from (hub, principal, filters) to the
template's data, calling the same service functions as the JSON API
(``hub.analytics``, ``hub.store``, ``hub.alerts``, the key ring), so a page shows the
figures the API returns for the same filters. Blocking: run them in a thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stacklens.alerting.silences import SilenceStore
from stacklens.alerting.statestore import AlertStateStore
from stacklens.analytics.budgets import BudgetStore
from stacklens.analytics.costs import COST_DIMENSIONS
from stacklens.analytics.definitions import HEARTBEAT_WINDOW_S
from stacklens.analytics.service import Analytics, budget_report, format_ns
from stacklens.api.events import visible_stacks
from stacklens.metadata.keys import Principal
from stacklens.store.base import EventQuery
from stacklens.web import charts
from stacklens.web.filters import PageParams, analytics_filters, window_ns
from stacklens.web.logs import LOG_TYPES, LogSearch, search_logs, span_tree

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = [
    "admin_page",
    "alerts_page",
    "costs_page",
    "logs_page",
    "overview_page",
    "session_page",
    "sessions_page",
    "stack_page",
    "trace_page",
]

COST_VIEWS = ("model", "agent", "user_id", "day", "stack_name", "provider")
SESSIONS_PER_PAGE = 50


def _analytics(hub: Hub) -> Analytics:
    return hub.analytics


def _stack_health(stack: dict[str, Any], now_ns: int) -> str:
    last = stack.get("last_seen_ns")
    if last is None:
        return "unknown"
    if now_ns - int(last) <= HEARTBEAT_WINDOW_S * 10**9:
        return "up"
    return "idle" if stack.get("active") else "down"


def overview_page(hub: Hub, principal: Principal, p: PageParams) -> dict[str, Any]:
    """Seed 000 §6.1 and the cost summary: same as ``/api/v1/overview`` plus the
    projection of ``/api/v1/costs``."""
    a = _analytics(hub)
    f = analytics_filters(a, principal, p, user=False)
    ov = a.overview(f)
    projection = a.projection(f)
    now = a.clock()
    for stack in ov["stacks"]:
        stack["health"] = _stack_health(stack, now)
    messages = sum(int(r.get("messages") or 0) for r in ov["messages"])
    tokens = sum(int(r["tokens_total"]) for r in ov["tokens_by_model"])
    return {
        "window": {"since": format_ns(f.since_ns), "until": format_ns(f.until_ns)},
        "overview": ov,
        "projection": projection,
        "figures": {
            "active_stacks": ov["active_stacks"],
            "messages": messages,
            "tokens": tokens,
            "error_rate": ov["errors"]["error_rate"],
            "errors": ov["errors"]["errors"],
            "cost": float(ov["cost"] or 0.0),
        },
        "charts": {
            "messages": charts.time_series(
                "Messages per bucket", ov["messages"], [("messages", "messages")], kind="bar"
            ),
            "tokens_by_model": charts.bar(
                "Tokens by model",
                ov["tokens_by_model"],
                "model",
                [("tokens_in", "input"), ("tokens_out", "output")],
            ),
            "top_agents": charts.horizontal_bar(
                "Top agents (requests)", ov["top_agents"], "agent", "requests", "requests"
            ),
        },
    }


def stack_page(hub: Hub, principal: Principal, p: PageParams) -> dict[str, Any]:
    """Seed 000 §6.2: the data of ``/api/v1/stacks/{stack}/dashboard``."""
    a = _analytics(hub)
    f = analytics_filters(a, principal, p, user=False)
    d = a.stack_dashboard(f)
    sessions = sum(int(r.get("sessions") or 0) for r in d["sessions"])
    tokens_in = sum(int(r.get("tokens_in") or 0) for r in d["tokens"])
    tokens_out = sum(int(r.get("tokens_out") or 0) for r in d["tokens"])
    return {
        "window": {"since": format_ns(f.since_ns), "until": format_ns(f.until_ns)},
        "dashboard": d,
        "figures": {
            "sessions": sessions,
            "active_sessions": d["active_sessions"],
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
            "error_rate": d["errors"]["error_rate"],
            "tool_calls": sum(int(t["calls"]) for t in d["tools"]),
            **{f"latency_{k}": d["latency"].get(f"{k}_ms") for k in ("p50", "p95", "p99")},
        },
        "charts": {
            "sessions": charts.time_series(
                "Sessions started", d["sessions"], [("sessions", "sessions")], kind="bar"
            ),
            "tokens": charts.time_series(
                "Tokens",
                d["tokens"],
                [
                    ("tokens_in", "input"),
                    ("tokens_out", "output"),
                    ("tokens_cache_read", "cache read"),
                ],
            ),
            "tools": charts.bar(
                "Tool usage",
                d["tools"],
                "tool",
                [("calls", "calls"), ("failures", "failures")],
                stacked=False,
            ),
        },
    }


def sessions_page(hub: Hub, principal: Principal, p: PageParams) -> dict[str, Any]:
    a = _analytics(hub)
    f = analytics_filters(a, principal, p)
    rows = a.sessions(f, SESSIONS_PER_PAGE + 1, p.offset)
    return {
        "sessions": rows[:SESSIONS_PER_PAGE],
        "has_more": len(rows) > SESSIONS_PER_PAGE,
        "page_size": SESSIONS_PER_PAGE,
        "window": {"since": format_ns(f.since_ns), "until": format_ns(f.until_ns)},
    }


def session_page(
    hub: Hub, principal: Principal, session_id: str, stack: str | None
) -> dict[str, Any]:
    """One session's summary and timeline per stack (``/api/v1/sessions/{id}``).
    Events carry content only when the stack's policy stores it; otherwise the page
    shows the hash and the length."""
    found = _analytics(hub).session(session_id, visible_stacks(principal, stack), 2000)
    return {"session_id": session_id, "stacks": found}


def logs_page(hub: Hub, principal: Principal, p: PageParams) -> dict[str, Any]:
    a = _analytics(hub)
    now = a.clock()
    since, until = window_ns(p, now)
    kind = p.type if p.type in LOG_TYPES else "log"
    search = LogSearch(
        since_ns=since,
        until_ns=until,
        stacks=visible_stacks(principal, p.stack),
        types=LOG_TYPES[kind],
        level=p.level,
        service=p.service,
        text=p.q,
    )
    return {
        "rows": search_logs(a, search),
        "type": kind,
        "since_ns": since,
        "until_ns": until,
        "live": p.until is None,
        "newest_ns": now,
    }


def trace_page(hub: Hub, principal: Principal, trace_id: str) -> dict[str, Any]:
    events = hub.store.query_events(
        EventQuery(stacks=visible_stacks(principal, None), trace_id=trace_id, limit=1000)
    )
    rows = span_tree(events)
    total = None
    if rows:
        first = min(r.start_ns for r in rows)
        last = max(r.start_ns + int((r.duration_ms or 0) * 1e6) for r in rows)
        total = (last - first) / 1e6
    return {"trace_id": trace_id, "rows": rows, "total_ms": total, "count": len(events)}


def costs_page(
    hub: Hub, principal: Principal, p: PageParams, budget_store: BudgetStore
) -> dict[str, Any]:
    """``/api/v1/costs?by=…`` (whole UTC days) and ``/api/v1/budgets``."""
    a = _analytics(hub)
    by = p.by if p.by in COST_DIMENSIONS else "model"
    f = analytics_filters(a, principal, p, step=3600)
    report = a.costs(f, by)
    rows = report["rows"]
    if by == "day":
        chart = charts.time_series(
            "Cost per day (USD)",
            [{**r, "time": r["day"]} for r in rows],
            [("cost_usd", "cost")],
            kind="bar",
        )
    else:
        chart = charts.bar(f"Cost by {by} (USD)", rows[:25], by, [("cost_usd", "cost")])
    now = a.clock()
    return {
        "by": by,
        "views": COST_VIEWS,
        "report": report,
        "budgets": budget_report(a, budget_store.list(visible_stacks(principal, p.stack))),
        "month": format_ns(now)[:7],
        "window": {"since": format_ns(f.since_ns), "until": format_ns(f.until_ns)},
        "charts": {"costs": chart},
    }


def _visible(principal: Principal, labels: dict[str, Any]) -> bool:
    return principal.stack is None or labels.get("stack_name") == principal.stack


def alerts_page(hub: Hub, principal: Principal) -> dict[str, Any]:
    engine = hub.alerts
    now = hub.clock()
    active: list[dict[str, Any]] = []
    if engine is not None:
        for alert in engine.active_alerts():
            if _visible(principal, alert["labels"]):
                item = dict(alert)
                item["active_at"] = format_ns(item.pop("active_at_ns"))
                fired = item.pop("fired_at_ns")
                item["fired_at"] = None if fired is None else format_ns(fired)
                active.append(item)
    states = engine.states if engine is not None else AlertStateStore(hub.metadata)
    history = [
        {**row, "at": format_ns(row.pop("at_ns"))}
        for row in states.history(limit=100)
        if _visible(principal, row["labels"])
    ]
    silences = (
        engine.silences if engine is not None else SilenceStore(hub.metadata, clock=hub.clock)
    )
    return {
        "engine": engine is not None,
        "firing": [a for a in active if a["state"] == "firing"],
        "pending": [a for a in active if a["state"] == "pending"],
        "history": history,
        "silences": [
            s.to_json(now) for s in silences.list(include_expired=False, stack=principal.stack)
        ],
    }


def admin_page(hub: Hub) -> dict[str, Any]:
    keys = hub.keyring.list()
    return {
        "stacks": hub.stacks.list(),
        "keys": sorted(keys, key=lambda k: (k.revoked_ns is not None, -k.created_ns)),
    }
