"""Which stacks and services have shown a **regular heartbeat** — the only ones whose
silence means "down".

Seed 000's ``up{job="ai-stacks"} == 0`` and seed 002's ``up == 0`` judge *scrape
targets*: something Prometheus was told to expect. A stack or service name that showed
up once (a single ``curl``, a Loki ``app`` label, a finished demo session) is no such
target, and its silence is not an outage. The hub's equivalent of "a target" is a
series that sent heartbeats at a steady pace:

A series (a stack, or a stack's service) **has a regular heartbeat** when, within the
lookback window, it sent at least ``min_heartbeats`` (3) events of type ``heartbeat``
and the gaps between its newest ``min_heartbeats`` heartbeats are all

- at least ``min_interval`` (1 s) — a burst of pings is not a heartbeat,
- at most ``max_interval`` (1 min) — slower than that cannot back a 2-minute alert,
- within a factor ``jitter`` (3) of each other — "roughly regular".

Only such series are judged: silent beyond the rule's threshold → down. Any other
series is *unknown* (never "down"). The alert signals (``stack_up``, ``last_seen_age``
with ``min_heartbeats``) and the console overview use this one definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from stacklens.store.dialect import Dialect, Params

__all__ = [
    "DEFAULT_POLICY",
    "HEARTBEAT_LOOKBACK_S",
    "HeartbeatPolicy",
    "regular_heartbeats_sql",
    "stack_health",
]

#: How far back the overview looks for heartbeats (the default rules' window).
HEARTBEAT_LOOKBACK_S: Final = 7 * 86400


@dataclass(frozen=True)
class HeartbeatPolicy:
    """What "a regular heartbeat" takes (see the module doc)."""

    min_heartbeats: int = 3
    min_interval_ns: int = 1 * 10**9
    max_interval_ns: int = 60 * 10**9
    jitter: float = 3.0

    def __post_init__(self) -> None:
        if self.min_heartbeats < 2:
            raise ValueError("min_heartbeats must be at least 2 (one gap)")
        if not 0 < self.min_interval_ns <= self.max_interval_ns:
            raise ValueError("min_interval must be above 0 and at most max_interval")
        if self.jitter < 1:
            raise ValueError("jitter must be at least 1")


DEFAULT_POLICY: Final = HeartbeatPolicy()


def regular_heartbeats_sql(
    d: Dialect,
    p: Params,
    dims: Sequence[str],
    where: Sequence[str],
    policy: HeartbeatPolicy = DEFAULT_POLICY,
) -> str:
    """``SELECT d0.., heartbeats, last_heartbeat_ns, regular`` per series (one row per
    combination of ``dims`` that sent any heartbeat matching ``where``).

    ``dims`` and ``where`` are SQL over one ``events`` row, built by the caller from
    allow-lists; every value they need is already in ``p``."""
    count = policy.min_heartbeats
    n = p("hb_min_heartbeats", count, "int")
    lo = p("hb_min_interval_ns", policy.min_interval_ns, "int")
    hi = p("hb_max_interval_ns", policy.max_interval_ns, "int")
    jitter = p("hb_jitter", float(policy.jitter), "float")
    names = [f"d{i}" for i in range(len(dims))]
    select = "".join(f"{dim} AS {name}, " for dim, name in zip(dims, names, strict=True))
    keys = ", ".join(names)
    beats = (
        f"SELECT {select}{d.ts_to_ns('ts')} AS ts_ns FROM events "
        f"WHERE {' AND '.join(['event_type = ' + p('hb_type', 'heartbeat'), *where])}"
    )
    # One pass, no window functions and no self-join: each series' newest N heartbeats
    # are kept while aggregating (a top-N list), the N-1 gaps read off the list.
    per_series = (
        f"SELECT {keys + ', ' if names else ''}count(*) AS heartbeats, "
        f"max(ts_ns) AS last_ns, {d.newest('ts_ns', count)} AS newest FROM ({beats}) AS beats"
        f"{' GROUP BY ' + keys if names else ''}"
    )
    gaps = [f"(newest[{i}] - newest[{i + 1}])" for i in range(1, count)]
    min_gap = gaps[0] if len(gaps) == 1 else f"least({', '.join(gaps)})"
    max_gap = gaps[0] if len(gaps) == 1 else f"greatest({', '.join(gaps)})"
    regular = (
        f"length(newest) >= {n} AND {min_gap} >= {lo} AND {max_gap} <= {hi} "
        f"AND {max_gap} <= {jitter} * {min_gap}"
    )
    return (
        f"SELECT {keys + ', ' if names else ''}heartbeats, last_ns AS last_heartbeat_ns, "
        f"coalesce({regular}, false) AS regular FROM ({per_series}) AS series"
    )


def stack_health(
    stack: dict[str, Any], now_ns: int, *, up_window_s: int, regular: bool | None = None
) -> str:
    """The overview's mark for one stack row (``last_seen_ns``, ``active``,
    ``heartbeat_regular``): ``up`` (an event within ``up_window_s``), ``idle`` (active,
    not up), ``down`` (only a stack with a regular heartbeat that went silent), or
    ``unknown`` (never seen, or never sent a regular heartbeat: not judged)."""
    last = stack.get("last_seen_ns")
    if last is None:
        return "unknown"
    if now_ns - int(last) <= up_window_s * 10**9:
        return "up"
    if stack.get("active"):
        return "idle"
    judged = stack.get("heartbeat_regular") if regular is None else regular
    return "down" if judged else "unknown"
