"""Log and error search, and the span tree of one trace.

The search reads raw ``log``/``error`` events (newest first) with the filters the
console offers: time window, stack, level, service and a case-insensitive text match
on the message; the query is written over :class:`~stacklens.store.dialect.Dialect`
so it runs on every backend. The trace view orders a trace's events into a tree by
``span_id``/``parent_span_id`` (the events the ``/api/v1/events?trace_id=`` API
returns).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from stacklens.analytics.analytics_service import Analytics, format_ns
from stacklens.store.dialect import Params

__all__ = [
    "LEVELS",
    "LOG_TYPES",
    "LogSearch",
    "SpanRow",
    "error_text",
    "search_logs",
    "span_tree",
]

#: ``type`` parameter → event types searched.
LOG_TYPES: Final = {"log": ("log",), "error": ("error",), "all": ("log", "error")}
#: ``level`` parameter → stored level values (lower-cased) it matches.
LEVELS: Final = {
    "debug": ("debug", "trace"),
    "info": ("info",),
    "warn": ("warn", "warning"),
    "error": ("error", "err"),
    "fatal": ("fatal", "critical", "crit"),
}
_COLUMNS: Final = (
    "event_id",
    "stack_name",
    "event_type",
    "level",
    "service",
    "message",
    "session_id",
    "trace_id",
    "span_id",
    "error_code",
    "user_id",
)


class LogSearch(msgspec.Struct, frozen=True, kw_only=True):
    since_ns: int
    until_ns: int
    stacks: tuple[str, ...] | None = None
    types: tuple[str, ...] = ("log",)
    level: str | None = None
    service: str | None = None
    text: str | None = None
    limit: int = 200


def search_logs(analytics: Analytics, s: LogSearch) -> list[dict[str, Any]]:
    """Matching events newest first, each with ``timestamp`` (RFC 3339) and
    ``timestamp_ns``."""
    d = analytics.d
    p = Params(d)
    parts = [
        f"ts >= {d.ts_from_ns(p('since', s.since_ns, 'ts_ns'))}",
        f"ts < {d.ts_from_ns(p('until', s.until_ns, 'ts_ns'))}",
        d.in_list("event_type", p("types", s.types, "str_list")),
    ]
    if s.stacks is not None:
        parts.append(d.in_list("stack_name", p("stacks", s.stacks, "str_list")))
    if s.level is not None:
        levels = LEVELS.get(s.level.lower(), (s.level.lower(),))
        parts.append(d.in_list("lower(level)", p("levels", levels, "str_list")))
    if s.service is not None:
        parts.append(f"service = {p('service', s.service)}")
    if s.text is not None:
        parts.append(f"position({p('text', s.text.lower())} IN lower(message)) > 0")
    sql = (
        f"SELECT {d.ts_to_ns('ts')} AS timestamp_ns, {', '.join(_COLUMNS)} FROM events "
        f"WHERE {' AND '.join(parts)} ORDER BY ts DESC, event_id DESC "
        f"LIMIT {p('limit', int(s.limit), 'int')}"
    )
    rows = analytics.rows((sql, p.values))
    for row in rows:
        row["timestamp_ns"] = int(row["timestamp_ns"])
        row["timestamp"] = format_ns(row["timestamp_ns"])
    return rows


def error_text(event: dict[str, Any]) -> str:
    """What went wrong, for an error-log line. A failed LLM call or tool use usually
    has no message of its own (an OTLP span's is its name): say what failed and why."""
    message = event.get("message") or ""
    kind = event.get("event_type")
    if kind not in ("llm_call", "tool_use"):
        return str(message or event.get("error_code") or "")
    if kind == "tool_use":
        subject = f"tool {event['tool']}" if event.get("tool") else "tool use"
    else:
        subject = f"LLM call to {event['model']}" if event.get("model") else "LLM call"
    text = f"{subject} failed"
    if event.get("error_code"):
        text += f": {event['error_code']}"
    if message:
        text += f" ({message})"
    return text


class SpanRow(msgspec.Struct, kw_only=True):
    """One event of a trace, placed in the tree."""

    event: dict[str, Any]
    depth: int
    name: str
    start_ns: int
    duration_ms: float | None
    #: Offset from the trace's first event and share of the trace's span (for bars).
    offset_pct: float = 0.0
    width_pct: float = 0.0


def _name(event: dict[str, Any]) -> str:
    for key in ("message", "tool", "model", "path"):
        value = event.get(key)
        if value:
            return str(value)[:200]
    return str(event.get("event_type", "event"))


_MAX_DEPTH: Final = 100
_ATTACHED: Final = frozenset({"log", "error", "message", "feedback", "heartbeat"})


def _is_span(event: dict[str, Any]) -> bool:
    """Spans (OTLP spans become span/llm_call/tool_use/http_request events) own their
    ``span_id``; a log or error carrying a ``span_id`` sits inside that span."""
    return bool(event.get("span_id")) and event.get("event_type") not in _ATTACHED


def span_tree(events: Sequence[dict[str, Any]]) -> list[SpanRow]:
    """Depth-first order: each span followed by what happened inside it (by start
    time). Orphans (parent not in the trace) are roots."""
    items = sorted(events, key=lambda e: (int(e.get("timestamp_ns", 0)), e.get("event_id", "")))
    spans = {e["span_id"] for e in items if _is_span(e)}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for event in items:
        parent = event.get("parent_span_id") if _is_span(event) else event.get("span_id")
        key = parent if parent in spans else None
        children.setdefault(key, []).append(event)
    out: list[SpanRow] = []
    seen: set[int] = set()

    def walk(parent: str | None, depth: int) -> None:
        for event in children.get(parent, []):
            if id(event) in seen:
                continue
            seen.add(id(event))
            duration = event.get("duration_ms")
            out.append(
                SpanRow(
                    event=event,
                    depth=min(depth, 12),
                    name=_name(event),
                    start_ns=int(event.get("timestamp_ns", 0)),
                    duration_ms=None if duration is None else float(duration),
                )
            )
            if _is_span(event) and depth < _MAX_DEPTH:
                walk(event["span_id"], depth + 1)

    walk(None, 0)
    for event in items:  # a cycle in parent links: show what was not reached
        if id(event) not in seen:
            duration = event.get("duration_ms")
            out.append(
                SpanRow(
                    event=event,
                    depth=0,
                    name=_name(event),
                    start_ns=int(event.get("timestamp_ns", 0)),
                    duration_ms=None if duration is None else float(duration),
                )
            )
    _place(out)
    return out


def _place(rows: list[SpanRow]) -> None:
    if not rows:
        return
    first = min(r.start_ns for r in rows)
    last = max(r.start_ns + int((r.duration_ms or 0) * 1e6) for r in rows)
    total = max(last - first, 1)
    for row in rows:
        row.offset_pct = round(100 * (row.start_ns - first) / total, 2)
        width = (row.duration_ms or 0) * 1e6 / total * 100
        row.width_pct = round(min(max(width, 0.5), 100 - row.offset_pct), 2)
