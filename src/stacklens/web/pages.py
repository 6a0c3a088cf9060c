"""What each console page shows: pure functions from (hub, principal, filters) to the
template's data, calling the same service functions as the JSON API
(``hub.analytics``, ``hub.store``, ``hub.alerts``, the key ring), so a page shows the
figures the API returns for the same filters. Blocking: run them in a thread.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import HTTPException

from stacklens.analytics.analytics_service import Analytics, format_ns
from stacklens.analytics.budgets import BudgetStore, budget_report
from stacklens.analytics.costs import COST_DIMENSIONS
from stacklens.analytics.definitions import HEARTBEAT_WINDOW_S
from stacklens.analytics.heartbeats import stack_health
from stacklens.analytics.queries import Filters
from stacklens.api.events import visible_stacks
from stacklens.metadata.keys import Principal
from stacklens.store.base import EventQuery
from stacklens.web import charts
from stacklens.web.console_hub import ConsoleHub
from stacklens.web.filters import PageParams, analytics_filters, window_ns
from stacklens.web.log_views import LOG_TYPES, LogSearch, search_logs, span_tree

__all__ = [
    "admin_page",
    "alerts_page",
    "costs_page",
    "logs_page",
    "overview_page",
    "session_page",
    "sessions_page",
    "stack_exists",
    "stack_page",
    "stacks_page",
    "trace_page",
]

COST_VIEWS = ("model", "agent", "user_id", "day", "stack_name", "provider")
SESSIONS_PER_PAGE = 50


def _analytics(hub: ConsoleHub) -> Analytics:
    return hub.analytics


def _window(f: Filters, now_ns: int) -> dict[str, Any]:
    """The page's window as RFC 3339 (``data-since``/``data-until``: what the API is
    asked for); ``ends_now`` when its end is the boundary of the current bucket, which
    is later than now (the page says "now" rather than an instant to come)."""
    return {
        "since": format_ns(f.since_ns),
        "until": format_ns(f.until_ns),
        "ends_now": f.since_ns <= now_ns < f.until_ns,
    }


def _axis(f: Filters) -> charts.Window:
    return format_ns(f.since_ns), format_ns(f.until_ns)


_DAY_NS = 86400 * 10**9


def cost_days(f: Filters) -> tuple[str, str]:
    """The UTC days (first, last; ``YYYY-MM-DD``) a cost figure of the window covers:
    billing is per day, from the day holding ``since`` to the day holding the last
    instant before ``until``."""
    return format_ns(f.since_ns)[:10], format_ns(f.until_ns - 1)[:10]


def _day_axis(f: Filters) -> charts.Window:
    start = f.since_ns - f.since_ns % _DAY_NS
    last = f.until_ns - 1
    return format_ns(start), format_ns(last - last % _DAY_NS + _DAY_NS)


def _stack_health(stack: dict[str, Any], now_ns: int) -> str:
    # One definition with the API's: only a stack with a regular heartbeat is "down".
    return stack_health(stack, now_ns, up_window_s=HEARTBEAT_WINDOW_S)


def overview_page(hub: ConsoleHub, principal: Principal, p: PageParams) -> dict[str, Any]:
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
        "window": _window(f, now),
        "cost_days": cost_days(f),
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
                "Messages per bucket",
                ov["messages"],
                [("messages", "messages")],
                kind="bar",
                window=_axis(f),
                step_s=f.step_s,
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


#: ``sort`` parameter of the Stacks index → the row's value it orders by.
STACK_SORTS: Final = ("stack", "health", "last_seen", "events", "errors", "error_rate", "cost")
#: Health, worst first when sorted ascending.
_HEALTH_ORDER: Final = {"down": 0, "unknown": 1, "idle": 2, "up": 3}


def parse_sort(value: str | None) -> tuple[str, bool]:
    """``sort=cost`` / ``sort=-cost`` → ``("cost", descending)``; unknown keys sort by
    name."""
    text = (value or "").strip()
    descending = text.startswith("-")
    key = text.lstrip("-")
    return (key, descending) if key in STACK_SORTS else ("stack", False)


def sort_stacks(rows: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Rows ordered by ``key`` (missing values last either way), then by name."""

    def value(row: dict[str, Any]) -> Any:
        if key == "stack":
            return row["stack_name"]
        if key == "health":
            return _HEALTH_ORDER.get(row["health"], 1)
        if key == "last_seen":
            return row.get("last_seen_ns")
        return row.get(key)

    by_name = sorted(rows, key=lambda r: r["stack_name"])
    present = [r for r in by_name if value(r) is not None]
    missing = [r for r in by_name if value(r) is None]
    return sorted(present, key=value, reverse=descending) + missing


def stacks_page(
    hub: ConsoleHub, principal: Principal, p: PageParams, sort: str | None
) -> dict[str, Any]:
    """Every visible stack (registered or reporting): health, last seen, and the
    window's volume, errors and cost (the ``stack_name`` breakdown of the API)."""
    a = _analytics(hub)
    f = analytics_filters(a, principal, p, user=False)
    now = a.clock()
    seen = {r["stack_name"]: r for r in a.active_stacks(f.stacks)}
    names = set(seen)
    names.update(s.name for s in hub.stacks.list() if f.stacks is None or s.name in f.stacks)
    figures = {
        r["stack_name"]: r
        for r in a.breakdown(
            f, "stack_name", ("events", "requests", "errors", "cost_usd"), limit=10_000
        )
    }
    rows = []
    for name in names:
        last = seen.get(name, {})
        fig = figures.get(name, {})
        requests, errors = int(fig.get("requests") or 0), int(fig.get("errors") or 0)
        rows.append(
            {
                "stack_name": name,
                "health": _stack_health(last, now),
                "last_seen": last.get("last_seen"),
                "last_seen_ns": last.get("last_seen_ns"),
                "events": int(fig.get("events") or 0),
                "requests": requests,
                "errors": errors,
                "error_rate": errors / requests if requests else None,
                "cost": float(fig.get("cost_usd") or 0.0),
            }
        )
    key, descending = parse_sort(sort)
    return {
        "window": _window(f, now),
        "stacks": sort_stacks(rows, key, descending),
        "sort": key,
        "descending": descending,
        "sorts": STACK_SORTS,
    }


def stack_exists(hub: ConsoleHub, name: str) -> bool:
    """Registered, has reported (registration of a new stack may lag its events), or
    named by an API key (issued for it, not reporting yet)."""
    if hub.stacks.get(name) is not None or _analytics(hub).active_stacks((name,)):
        return True
    return any(k.stack_name == name and k.revoked_ns is None for k in hub.keyring.list())


def stack_page(hub: ConsoleHub, principal: Principal, p: PageParams) -> dict[str, Any]:
    """Seed 000 §6.2: the data of ``/api/v1/stacks/{stack}/dashboard``; 404 for a
    stack that is neither registered nor has reported (after the access check, so a
    stack-bound key learns nothing about other names)."""
    a = _analytics(hub)
    f = analytics_filters(a, principal, p, user=False)
    if p.stack is None or not stack_exists(hub, p.stack):
        raise HTTPException(404, f"No stack named {p.stack!r}.")
    d = a.stack_dashboard(f)
    sessions = sum(int(r.get("sessions") or 0) for r in d["sessions"])
    tokens_in = sum(int(r.get("tokens_in") or 0) for r in d["tokens"])
    tokens_out = sum(int(r.get("tokens_out") or 0) for r in d["tokens"])
    return {
        "window": _window(f, a.clock()),
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
                "Sessions started",
                d["sessions"],
                [("sessions", "sessions")],
                kind="bar",
                window=_axis(f),
                step_s=f.step_s,
            ),
            "tokens": charts.time_series(
                "Tokens",
                d["tokens"],
                [
                    ("tokens_in", "input"),
                    ("tokens_out", "output"),
                    ("tokens_cache_read", "cache read"),
                ],
                window=_axis(f),
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


def sessions_page(hub: ConsoleHub, principal: Principal, p: PageParams) -> dict[str, Any]:
    a = _analytics(hub)
    f = analytics_filters(a, principal, p)
    rows = a.sessions(f, SESSIONS_PER_PAGE + 1, p.offset)
    return {
        "sessions": rows[:SESSIONS_PER_PAGE],
        "has_more": len(rows) > SESSIONS_PER_PAGE,
        "page_size": SESSIONS_PER_PAGE,
        "window": _window(f, a.clock()),
    }


def session_page(
    hub: ConsoleHub, principal: Principal, session_id: str, stack: str | None
) -> dict[str, Any]:
    """One session's summary and timeline per stack (``/api/v1/sessions/{id}``).
    Events carry content only when the stack's policy stores it; otherwise the page
    shows the hash and the length."""
    found = _analytics(hub).session(session_id, visible_stacks(principal, stack), 2000)
    return {"session_id": session_id, "stacks": found}


def logs_page(hub: ConsoleHub, principal: Principal, p: PageParams) -> dict[str, Any]:
    a = _analytics(hub)
    now = a.clock()
    since, until = window_ns(p, now)
    # Both kinds unless asked: errors hidden by default read as "no errors".
    kind = p.type if p.type in LOG_TYPES else "all"
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


def trace_page(hub: ConsoleHub, principal: Principal, trace_id: str) -> dict[str, Any]:
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
    hub: ConsoleHub, principal: Principal, p: PageParams, budget_store: BudgetStore
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
            window=_day_axis(f),
            step_s=86400,
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
        "window": _window(f, now),
        "cost_days": cost_days(f),
        "charts": {"costs": chart},
    }


def _visible(principal: Principal, labels: dict[str, Any]) -> bool:
    return principal.stack is None or labels.get("stack_name") == principal.stack


def alerts_page(hub: ConsoleHub, principal: Principal) -> dict[str, Any]:
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
    states = engine.states if engine is not None else hub.alert_stores.states
    history = [
        {
            **row,
            "at": format_ns(row.pop("at_ns")),
            "value_text": engine.value_text(row["rule_key"], row.get("value"))
            if engine is not None
            else None,
        }
        for row in states.history(limit=100)
        if _visible(principal, row["labels"])
    ]
    silences = engine.silences if engine is not None else hub.alert_stores.silences
    return {
        "engine": engine is not None,
        "firing": [a for a in active if a["state"] == "firing"],
        "pending": [a for a in active if a["state"] == "pending"],
        "history": history,
        "silences": [
            s.to_json(now) for s in silences.list(include_expired=False, stack=principal.stack)
        ],
    }


def admin_page(hub: ConsoleHub) -> dict[str, Any]:
    keys = hub.keyring.list()
    return {
        "retention": [t.to_json() for t in hub.retention_status.status()],
        "stacks": hub.stacks.list(),
        "keys": sorted(keys, key=lambda k: (k.revoked_ns is not None, -k.created_ns)),
    }
