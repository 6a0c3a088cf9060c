"""Per-stack Prometheus metrics (seed 000 §3.3 names) computed from the store.

A custom collector: at scrape time it reads three small tables — ``metric_counters``
(cumulative, never pruned, so counters never decrease), ``stack_last_seen`` and the
open sessions of ``session_summaries`` — never the raw events, so the scrape time does
not grow with the event count. Label values are bounded: model, agent, tool and role
are capped per stack at ingest (:data:`~stacklens.analytics.definitions.LABEL_CAP`,
later newcomers become ``other``); user, session and trace ids are never labels.

Families:

``opencode_sessions_total{stack_name}``                  session_start events
``opencode_messages_total{stack_name,role,model,agent}``  message events
``opencode_tokens_total{stack_name,model,direction}``     direction: input, output,
                                                          cache_read, cache_write, reasoning
``opencode_tool_invocations_total{stack_name,tool,success}``
``opencode_response_duration_seconds{stack_name,model}``  histogram of llm_call durations
``opencode_active_sessions{stack_name}``                  gauge (open, active ≤ 30 min)
``opencode_errors_total{stack_name}``                     errors (see definitions)
``stacklens_cost_usd_total{stack_name,model}``
``stacklens_unpriced_events_total{stack_name,model,provider}``
``stacklens_stack_events_total{stack_name,event_type}``
``stacklens_stack_last_seen_timestamp_seconds{stack_name}``
``stacklens_stack_up{stack_name}``                        1 when seen within 5 min
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from stacklens.analytics.definitions import (
    ACTIVE_SESSION_WINDOW_S,
    DURATION_BUCKETS,
    HEARTBEAT_WINDOW_S,
)
from stacklens.analytics.sessions import active_sessions
from stacklens.store.base import Reader
from stacklens.store.dialect import Dialect

__all__ = ["StackMetricsCollector", "counters_sql", "last_seen_sql"]

_BOUNDS = [*(f"{b:g}" for b in DURATION_BUCKETS), "+Inf"]


class StackMetricsCollector(Collector):
    """Register with ``registry.register(StackMetricsCollector(store, clock))``.

    ``cache_s`` reuses one read for scrapes closer together than that (several
    Prometheus servers scraping one hub).
    """

    def __init__(
        self,
        reader: Reader,
        clock: Callable[[], int],
        *,
        heartbeat_window_s: int = HEARTBEAT_WINDOW_S,
        active_session_window_s: int = ACTIVE_SESSION_WINDOW_S,
        cache_s: float = 1.0,
    ) -> None:
        self._reader = reader
        self._clock = clock
        self._d = reader.dialect
        self.heartbeat_window_s = heartbeat_window_s
        self.active_session_window_s = active_session_window_s
        self.cache_s = cache_s
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def describe(self) -> list[Metric]:
        return []  # families are dynamic; keep registration free of store reads

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= self.cache_s:
                self._cached = (now, self._read())
            yield from self._cached[1]

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._reader.fetch(sql, params).rows

    def _read(self) -> list[Metric]:
        counters = self._rows(counters_sql())
        seen = self._rows(last_seen_sql(self._d))
        now_ns = self._clock()
        sql, params = active_sessions(self._d, now_ns, self.active_session_window_s)
        active = {row[0]: int(row[1]) for row in self._rows(sql, params)}
        return _families(counters, seen, active, now_ns, self.heartbeat_window_s)


def counters_sql() -> str:
    """Every cumulative series behind ``/metrics``."""
    return (
        "SELECT stack_name, family, l1, l2, l3, value FROM metric_counters "
        "ORDER BY stack_name, family, l1, l2, l3"
    )


def last_seen_sql(d: Dialect) -> str:
    """Each stack's newest event time (epoch ns)."""
    return f"SELECT stack_name, {d.ts_to_ns('last_ts')} FROM stack_last_seen ORDER BY stack_name"


def _families(
    counters: list[tuple[Any, ...]],
    seen: list[tuple[Any, ...]],
    active: dict[str, int],
    now_ns: int,
    heartbeat_window_s: int,
) -> list[Metric]:
    sessions = CounterMetricFamily("opencode_sessions", "Sessions started.", labels=["stack_name"])
    messages = CounterMetricFamily(
        "opencode_messages", "Messages processed.", labels=["stack_name", "role", "model", "agent"]
    )
    tokens = CounterMetricFamily(
        "opencode_tokens", "Tokens used.", labels=["stack_name", "model", "direction"]
    )
    tools = CounterMetricFamily(
        "opencode_tool_invocations", "Tool invocations.", labels=["stack_name", "tool", "success"]
    )
    errors = CounterMetricFamily(
        "opencode_errors",
        "Errors: error events, error-level logs, failed LLM calls and tool uses.",
        labels=["stack_name"],
    )
    cost = CounterMetricFamily(
        "stacklens_cost_usd",
        "LLM cost in USD (client-sent or priced at ingest).",
        labels=["stack_name", "model"],
    )
    unpriced = CounterMetricFamily(
        "stacklens_unpriced_events",
        "Events with tokens whose model has no known price.",
        labels=["stack_name", "model", "provider"],
    )
    events = CounterMetricFamily(
        "stacklens_stack_events", "Events stored, by type.", labels=["stack_name", "event_type"]
    )
    simple: dict[str, tuple[CounterMetricFamily, Callable[[tuple[Any, ...]], list[str]]]] = {
        "sessions": (sessions, lambda r: [r[0]]),
        "messages": (messages, lambda r: [r[0], r[2], r[3], r[4]]),
        "tokens": (tokens, lambda r: [r[0], r[2], r[3]]),
        "tools": (tools, lambda r: [r[0], r[2], r[3]]),
        "errors": (errors, lambda r: [r[0]]),
        "cost": (cost, lambda r: [r[0], r[2]]),
        "unpriced": (unpriced, lambda r: [r[0], r[2], r[3]]),
        "events": (events, lambda r: [r[0], r[2]]),
    }
    buckets: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    sums: dict[tuple[str, str], float] = {}
    for row in counters:
        family = row[1]
        if family in simple:
            metric, labels = simple[family]
            metric.add_metric(labels(row), float(row[5]))
        elif family == "duration_bucket":
            buckets[(row[0], row[2])][row[3]] = float(row[5])
        elif family == "duration_sum":
            sums[(row[0], row[2])] = float(row[5])
    duration = HistogramMetricFamily(
        "opencode_response_duration_seconds",
        "LLM response duration (llm_call events).",
        labels=["stack_name", "model"],
    )
    for key in sorted(buckets):
        counts, running, cumulative = buckets[key], 0.0, []
        for bound in _BOUNDS:
            running += counts.get(bound, 0.0)
            le = bound if bound == "+Inf" else repr(float(bound))
            cumulative.append((le, running))
        duration.add_metric(list(key), cumulative, sums.get(key, 0.0))
    active_gauge = GaugeMetricFamily(
        "opencode_active_sessions",
        "Open sessions with an event in the last 30 minutes.",
        labels=["stack_name"],
    )
    last_seen = GaugeMetricFamily(
        "stacklens_stack_last_seen_timestamp_seconds",
        "Time of the stack's newest event.",
        labels=["stack_name"],
    )
    up = GaugeMetricFamily(
        "stacklens_stack_up",
        "1 when the stack sent an event within the heartbeat window.",
        labels=["stack_name"],
    )
    cutoff = now_ns - heartbeat_window_s * 10**9
    for stack, last_ns in seen:
        active_gauge.add_metric([stack], float(active.get(stack, 0)))
        last_seen.add_metric([stack], int(last_ns) / 1e9)
        up.add_metric([stack], 1.0 if int(last_ns) >= cutoff else 0.0)
    return [
        sessions,
        messages,
        tokens,
        tools,
        duration,
        active_gauge,
        errors,
        cost,
        unpriced,
        events,
        last_seen,
        up,
    ]
