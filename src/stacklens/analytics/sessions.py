"""Sessions: the list (from ``session_summaries``), one session's timeline (its raw
events, pruned to the session's time span), active sessions.

A session is in a window when it overlaps it (first event before ``until``, last
event at or after ``since``). An **active session** has no ``session_end`` and an
event within the last 30 minutes.
"""

from __future__ import annotations

from typing import Final

from stacklens.analytics.queries import Filters, Query
from stacklens.analytics.rollups import SESSION_SUMMARIES, TOKEN_COLUMNS
from stacklens.store.columns import EVENT_COLUMNS
from stacklens.store.dialect import Dialect, Params

__all__ = [
    "SESSION_COLUMNS",
    "active_sessions",
    "list_sessions",
    "session_bounds",
    "session_events",
]

SESSION_COLUMNS: Final = (
    "stack_name",
    "session_id",
    "user_id",
    "events",
    "messages",
    "tool_calls",
    "llm_calls",
    *TOKEN_COLUMNS,
    "cost_usd",
    "errors",
    "models",
    "agents",
)


def _session_select(d: Dialect) -> str:
    times = ", ".join(
        f"{d.ts_to_ns(c)} AS {c.replace('_ts', '_ns')}"
        for c in ("start_ts", "end_ts", "first_ts", "last_ts")
    )
    return f"{', '.join(SESSION_COLUMNS)}, {times}"


def _recent(d: Dialect, since: str) -> list[str]:
    """``last_ts >= since``, and the same over the contributions first: a store that
    folds on read (ClickHouse) then folds only the sessions with an event since then,
    not every session kept (exact: the folded ``last_ts`` is the contributions' max)."""
    cond = f"last_ts >= {since}"
    return [d.rollup_keys_with(SESSION_SUMMARIES.name, ("session_id",), cond), cond]


def list_sessions(d: Dialect, f: Filters, *, limit: int = 100, offset: int = 0) -> Query:
    """Sessions overlapping the window, newest first."""
    p = Params(d)
    parts = [
        f"first_ts < {d.ts_from_ns(p('until', f.until_ns, 'ts_ns'))}",
        *_recent(d, d.ts_from_ns(p("since", f.since_ns, "ts_ns"))),
    ]
    if f.stacks is not None:
        parts.append(d.in_list("stack_name", p("stacks", f.stacks, "str_list")))
    if f.user is not None:
        parts.append(f"user_id = {p('user', f.user)}")
    if f.model is not None:
        parts.append(d.in_list(p("model", f.model), "models"))
    if f.agent is not None:
        parts.append(d.in_list(p("agent", f.agent), "agents"))
    sql = (
        f"SELECT {_session_select(d)} FROM session_summaries WHERE {' AND '.join(parts)} "
        f"ORDER BY first_ts DESC, session_id LIMIT {p('limit', int(limit), 'int')} "
        f"OFFSET {p('offset', int(offset), 'int')}"
    )
    return sql, p.values


def session_bounds(d: Dialect, session_id: str, stacks: tuple[str, ...] | None) -> Query:
    """The summary of one session (one row per stack that has that session id)."""
    p = Params(d)
    cond = f"session_id = {p('session', session_id)}"
    if stacks is not None:
        cond += f" AND {d.in_list('stack_name', p('stacks', stacks, 'str_list'))}"
    sql = f"SELECT {_session_select(d)} FROM session_summaries WHERE {cond} ORDER BY stack_name"
    return sql, p.values


def session_events(
    d: Dialect, session_id: str, stack: str, first_ns: int, last_ns: int, *, limit: int = 5000
) -> Query:
    """A session's events in time order; the ts range lets zone maps prune."""
    p = Params(d)
    names = ", ".join(
        d.ts_to_ns(c.name) + " AS timestamp_ns" if c.kind == "timestamp" else c.name
        for c in EVENT_COLUMNS
        if c.name != "received_ns"
    )
    sql = (
        f"SELECT {names} FROM events WHERE ts >= {d.ts_from_ns(p('first', first_ns, 'ts_ns'))} "
        f"AND ts <= {d.ts_from_ns(p('last', last_ns, 'ts_ns'))} "
        f"AND session_id = {p('session', session_id)} AND stack_name = {p('stack', stack)} "
        f"ORDER BY ts, event_id LIMIT {p('limit', int(limit), 'int')}"
    )
    return sql, p.values


def active_sessions(
    d: Dialect, now_ns: int, window_s: int, stacks: tuple[str, ...] | None = None
) -> Query:
    """Rows ``(stack_name, active)``: open sessions with an event in the window."""
    p = Params(d)
    cutoff = d.ts_from_ns(p("cutoff", now_ns - window_s * 10**9, "ts_ns"))
    cond = " AND ".join(["end_ts IS NULL", *_recent(d, cutoff)])
    if stacks is not None:
        cond += f" AND {d.in_list('stack_name', p('stacks', stacks, 'str_list'))}"
    sql = (
        f"SELECT stack_name, count(*) AS active FROM session_summaries WHERE {cond} "
        "GROUP BY 1 ORDER BY 1"
    )
    return sql, p.values
