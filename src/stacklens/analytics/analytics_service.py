"""Runs the analytics builders against a store and shapes the answers (JSON-ready).

One :class:`Analytics` per hub; each call takes its own cursor (a DuckDB connection
refuses concurrent calls), so it is safe from the threadpool.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from stacklens.analytics import costs, queries, sessions, usage
from stacklens.analytics.definitions import (
    ACTIVE_SESSION_WINDOW_S,
    ACTIVE_STACK_WINDOW_S,
    HEARTBEAT_WINDOW_S,
)
from stacklens.analytics.heartbeats import regular_stacks, stack_health
from stacklens.analytics.panels import (
    AGENT_MEASURES,
    TOKEN_MEASURES,
    TOKENS_LIMIT,
    Grouped,
    error_rate_out,
    rate,
    tokens_out,
    with_time,
)
from stacklens.analytics.queries import RAW, Filters, Query, choose_source
from stacklens.retention.guard import OutsideRetentionError, RawHorizon, outside_message
from stacklens.store.api_rows import format_ns
from stacklens.store.base import Reader

__all__ = ["Analytics", "format_ns", "rate"]


def _projection_windows(now_ns: int) -> list[tuple[int, int]]:
    """Today and the month to date (through the end of today): the projection's."""
    day_start, day_end = costs.day_range_ns(now_ns)
    moment = dt.datetime.fromtimestamp(now_ns // 10**9, tz=dt.UTC)
    month_start, _ = costs.month_range_ns(moment.year, moment.month)
    return [(day_start, day_end), (month_start, day_end)]


class Analytics:
    def __init__(
        self,
        reader: Reader,
        *,
        clock: Callable[[], int],
        active_stack_window_s: int = ACTIVE_STACK_WINDOW_S,
        active_session_window_s: int = ACTIVE_SESSION_WINDOW_S,
        raw_horizon: RawHorizon | None = None,
    ) -> None:
        self._reader = reader
        #: Where raw events start being kept (None: no retention, every raw figure
        #: answers): raw-backed figures over an earlier window are refused.
        self.raw_horizon = raw_horizon
        self.clock = clock
        self.d = reader.dialect
        self.active_stack_window_s = active_stack_window_s
        self.active_session_window_s = active_session_window_s

    # -- execution ---------------------------------------------------------------
    def rows(self, query: Query) -> list[dict[str, Any]]:
        sql, params = query
        return self._reader.fetch(sql, params).dicts()

    def one(self, query: Query) -> dict[str, Any]:
        rows = self.rows(query)
        return rows[0] if rows else {}

    # -- raw retention -----------------------------------------------------------
    def raw_kept_from(self, stacks: tuple[str, ...] | None) -> int | None:
        """The first instant raw events of ``stacks`` are kept from (None: all)."""
        if self.raw_horizon is None:
            return None
        return self.raw_horizon(stacks, self.clock())[0]

    def require_raw(self, f: Filters) -> None:
        """Refuse a raw-backed figure whose window starts before raw retention: it
        would be computed from part of its events and look right."""
        if self.raw_horizon is None:
            return
        kept_from, period = self.raw_horizon(f.stacks, self.clock())
        if f.since_ns < kept_from:
            raise OutsideRetentionError(outside_message("since", kept_from, period))

    def _require_source(self, f: Filters, *, step: bool = False) -> None:
        if choose_source(f, step=step) is RAW:
            self.require_raw(f)

    # -- usage -----------------------------------------------------------------
    def series(
        self,
        f: Filters,
        measures: Sequence[str],
        *,
        group_by: str | None = None,
        event_types: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        self._require_source(f, step=True)
        rows = self.rows(
            queries.series(self.d, f, measures, group_by=group_by, event_types=event_types)
        )
        return [with_time(r) for r in rows]

    def breakdown(
        self,
        f: Filters,
        dim: str,
        measures: Sequence[str],
        *,
        event_types: Sequence[str] = (),
        order_by: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        self._require_source(f)
        return self.rows(
            queries.breakdown(
                self.d, f, dim, measures, event_types=event_types, order_by=order_by, limit=limit
            )
        )

    def error_rate(self, f: Filters) -> dict[str, Any]:
        self._require_source(f)
        return error_rate_out(self.one(queries.totals(self.d, f, ("errors", "requests"))))

    def active_stacks(self, stacks: tuple[str, ...] | None) -> list[dict[str, Any]]:
        """Every known stack: last seen, active, and whether it has shown a regular
        heartbeat (:mod:`stacklens.analytics.heartbeats`)."""
        now = self.clock()
        rows = self.rows(usage.active_stacks(self.d, now, self.active_stack_window_s, stacks))
        regular = self.regular_heartbeats(now, stacks)
        for row in rows:
            with_time(row, "last_seen_ns", "last_seen")
            row["heartbeat_regular"] = regular.get(row["stack_name"], False)
            row["health"] = stack_health(row, now, up_window_s=HEARTBEAT_WINDOW_S)
        return rows

    def regular_heartbeats(self, now: int, stacks: tuple[str, ...] | None) -> dict[str, bool]:
        """Per stack with a heartbeat in the lookback: whether it is regular
        (:func:`~stacklens.analytics.heartbeats.regular_stacks`)."""
        return regular_stacks(self.rows, self.d, now, stacks)

    def tokens(self, f: Filters, by: str = "model") -> list[dict[str, Any]]:
        """Tokens, cost and unpriced calls per value of ``by`` (rows with no tokens and
        no LLM calls, such as tool uses, are left out)."""
        return tokens_out(
            self.breakdown(f, by, TOKEN_MEASURES, order_by="tokens_in", limit=TOKENS_LIMIT),
            by,
        )

    def tools(self, f: Filters) -> list[dict[str, Any]]:
        rows = self.breakdown(
            f,
            "tool",
            ("events", "failures", "duration_ms_sum", "duration_count"),
            event_types=("tool_use",),
        )
        out = []
        for row in rows:
            calls, failures = int(row["events"]), int(row["failures"])
            out.append(
                {
                    "tool": row["tool"],
                    "calls": calls,
                    "failures": failures,
                    "error_rate": rate(failures, calls),
                    "mean_duration_ms": rate(
                        float(row["duration_ms_sum"] or 0), float(row["duration_count"] or 0)
                    ),
                }
            )
        return out

    def agents(self, f: Filters, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.breakdown(f, "agent", AGENT_MEASURES, limit=limit + 1)
        return [r for r in rows if r["agent"] is not None][:limit]

    def latency(self, f: Filters, *, by_model: bool = False) -> dict[str, Any]:
        self.require_raw(f)
        overall = self.one(usage.latency(self.d, f))
        out: dict[str, Any] = {"overall": overall}
        if by_model:
            out["by_model"] = self.rows(usage.latency(self.d, f, by_model=True))
        return out

    def error_log(self, f: Filters, limit: int = 100) -> list[dict[str, Any]]:
        self.require_raw(f)
        rows = self.rows(usage.error_log(self.d, f, limit=limit))
        return [
            {k: v for k, v in with_time(r, "timestamp_ns", "timestamp").items() if v is not None}
            for r in rows
        ]

    # -- dashboards --------------------------------------------------------------
    def overview(self, f: Filters) -> dict[str, Any]:
        """Seed 000 §6.1: active stacks, messages per bucket, tokens by model, error
        rate, top agents."""
        stacks = self.active_stacks(f.stacks)
        return {
            "active_stacks": sum(1 for s in stacks if s["active"]),
            "stacks": stacks,
            **self.overview_panels(f),
            "cost": self.one(costs.cost_in_days(self.d, f)).get("cost_usd", 0.0),
        }

    def overview_panels(self, f: Filters, agents: int = 10) -> dict[str, Any]:
        """What :meth:`series` (messages), :meth:`tokens` by model, :meth:`error_rate`
        and :meth:`agents` give, from one read of the source (:func:`queries.grouped`)."""
        measures = ("messages", *TOKEN_MEASURES, *AGENT_MEASURES)
        read = self._grouped(f, ("model", "agent"), measures)
        by_agent = read.top("agent", AGENT_MEASURES, "requests", agents + 1)
        return {
            "messages": read.series(("messages",)),
            "tokens_by_model": read.tokens("model"),
            "errors": read.error_rate(),
            "top_agents": [r for r in by_agent if r["agent"] is not None][:agents],
        }

    def _grouped(self, f: Filters, dims: Sequence[str], measures: Sequence[str]) -> Grouped:
        self._require_source(f, step=True)
        groupings = (queries.BUCKET, *dims, None)
        measures = tuple(dict.fromkeys(measures))
        return Grouped(self.rows(queries.grouped(self.d, f, groupings, measures)), dims)

    def stack_dashboard(self, f: Filters) -> dict[str, Any]:
        """Seed 000 §6.2: sessions over time, token usage, tool breakdown, response
        time percentiles, error log."""
        tokens = ("tokens_in", "tokens_out", "tokens_cache_read", "cost_usd")
        # Sessions and tokens per bucket, tokens by model and the error rate in one
        # read (tools read tool uses only: their own statement).
        read = self._grouped(
            f, ("model",), ("sessions", *tokens, *TOKEN_MEASURES, "errors", "requests")
        )
        return {
            "sessions": read.series(("sessions",)),
            "tokens": read.series(tokens),
            "tokens_by_model": read.tokens("model"),
            "tools": self.tools(f),
            **self._raw_parts(f),
            "errors": read.error_rate(),
            "active_sessions": sum(
                r["active"]
                for r in self.rows(
                    sessions.active_sessions(
                        self.d, self.clock(), self.active_session_window_s, f.stacks
                    )
                )
            ),
        }

    def _raw_parts(self, f: Filters) -> dict[str, Any]:
        """The dashboard's percentiles and error log: over a window reaching past raw
        retention the percentiles say so (never a figure from part of the window) and
        the error log lists what is still kept."""
        try:
            return {"latency": self.latency(f)["overall"], "error_log": self.error_log(f, 50)}
        except OutsideRetentionError as exc:
            kept = self.raw_kept_from(f.stacks)
            assert kept is not None
            clipped = msgspec.structs.replace(f, since_ns=kept)
            return {
                "latency": {"outside_raw_retention": str(exc)},
                "error_log": self.error_log(clipped, 50) if kept < f.until_ns else [],
                "raw_events_kept_from": format_ns(kept),
            }

    # -- sessions ----------------------------------------------------------------
    def sessions(self, f: Filters, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        rows = self.rows(sessions.list_sessions(self.d, f, limit=limit, offset=offset))
        return [_session_out(r) for r in rows]

    def session(
        self, session_id: str, stacks: tuple[str, ...] | None, limit: int = 5000
    ) -> list[dict[str, Any]]:
        """Each stack's summary and timeline for that session id ([] when unknown)."""
        out = []
        for summary in self.rows(sessions.session_bounds(self.d, session_id, stacks)):
            events = self.rows(
                sessions.session_events(
                    self.d,
                    session_id,
                    summary["stack_name"],
                    int(summary["first_ns"]),
                    int(summary["last_ns"]),
                    limit=limit,
                )
            )
            timeline = []
            for event in events:
                with_time(event, "timestamp_ns", "timestamp")
                attributes = event.pop("attributes", None)
                clean = {k: v for k, v in event.items() if v is not None}
                if attributes and attributes != "{}":
                    clean["attributes"] = msgspec.json.decode(attributes)
                timeline.append(clean)
            entry: dict[str, Any] = {"summary": _session_out(summary), "events": timeline}
            kept = self.raw_kept_from((summary["stack_name"],))
            if kept is not None and int(summary["first_ns"]) < kept:
                # The summary outlives the raw events: say the timeline is partial.
                entry["events_kept_from"] = format_ns(kept)
            out.append(entry)
        return out

    # -- users and costs -----------------------------------------------------------
    def mixed_models(self, f: Filters) -> tuple[str, ...]:
        """The models whose billing records within ``f`` the cost reads must fold
        (:func:`costs.mixed_models`: usually none)."""
        query = costs.mixed_models(self.d, f)
        return () if query is None else tuple(r["model"] for r in self.rows(query))

    def users(self, f: Filters, limit: int = 1000) -> list[dict[str, Any]]:
        mixed = self.mixed_models(f)
        rows = self.rows(costs.cost_by(self.d, f, "user_id", mixed=mixed, limit=limit))
        counts = {
            r["user_id"]: int(r["sessions"]) for r in self.rows(costs.user_sessions(self.d, f))
        }
        for row in rows:
            row["sessions"] = counts.pop(row["user_id"], 0)
        rows.extend(
            {"user_id": user, "sessions": n, "calls": 0, "cost_usd": 0.0}
            for user, n in sorted(counts.items())
        )
        return rows

    def costs(self, f: Filters, by: str) -> dict[str, Any]:
        mixed = self.mixed_models(f)
        now = self.clock()
        # Today and the month so far, read with the rows when the window holds them
        # (a 30-day window does from the 1st to the 30th of a month).
        windows = _projection_windows(now)
        along = costs.windows_within(f, windows)
        rows = self.rows(
            costs.cost_by(
                self.d, f, by, mixed=mixed, with_total=True, windows=windows if along else ()
            )
        )
        # The grand-total grouping set gives its row even over no records.
        first = rows.pop(0)
        assert first["total_row"], "the totals come first"
        extra = ("total_row", "w0", "w1")
        total = {k: v for k, v in first.items() if k != by and k not in extra}
        for row in rows:
            for key in extra:
                row.pop(key, None)
        projection = self._project(now, first) if along else self.projection(f)
        return {"by": by, "rows": rows, "total": total, "projection": projection}

    def projection(self, f: Filters) -> dict[str, Any]:
        now = self.clock()
        return self._project(
            now, self.one(costs.priced_cost_in(self.d, f, _projection_windows(now)))
        )

    @staticmethod
    def _project(now: int, row: dict[str, Any]) -> dict[str, Any]:
        today, month = float(row.get("w0") or 0.0), float(row.get("w1") or 0.0)
        return msgspec.structs.asdict(costs.project(now, today, month))

    def month_usage(self, stack: str, now_ns: int) -> dict[str, float]:
        """Month-to-date cost and tokens (in + out) of one stack."""
        moment = dt.datetime.fromtimestamp(now_ns // 10**9, tz=dt.UTC)
        start, end = costs.month_range_ns(moment.year, moment.month)
        window = Filters(since_ns=start, until_ns=end, stacks=(stack,))
        row = self.one(costs.cost_in_days(self.d, window))
        return {
            "cost_usd": float(row.get("cost_usd") or 0.0),
            "tokens": float((row.get("tokens_in") or 0) + (row.get("tokens_out") or 0)),
        }

    def unpriced(self, f: Filters) -> list[dict[str, Any]]:
        return self.rows(costs.unpriced(self.d, f, mixed=self.mixed_models(f)))


def _session_out(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("start", "end", "first", "last"):
        value = row.get(f"{key}_ns")
        row[key] = None if value is None else format_ns(int(value))
    start, end = row.get("start_ns") or row.get("first_ns"), row.get("end_ns") or row.get("last_ns")
    row["duration_s"] = None if start is None or end is None else (int(end) - int(start)) / 1e9
    return row
