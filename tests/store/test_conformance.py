"""Backend conformance: what every store backend must answer, on one small dataset.

Each test runs against every factory of :data:`stacklens.testing.backends.BACKENDS`
(DuckDB today; a second backend joins by adding its factory there). Rows go in through
the real load path (sealed spool segments → ``load_segments``); every expected figure
below is worked out by hand from the dataset, never by running the code under test.

The dataset (UTC, ``NOW`` = 2026-01-15 12:00, clock injected):

====  ===========  =====  ========  ====  ==============================================
id    type         stack  session   user  details
====  ===========  =====  ========  ====  ==============================================
e01   session_st.  alpha  s1        u1    10:00
e02   message      alpha  s1        u1    10:05, role user, agent build
e03   llm_call     alpha  s1        u1    10:10 gpt-4o/openai/build, in 100 out 20
                                          cache_read 100, $0.50, 1000 ms, ok
e04   llm_call     alpha  s1        u1    10:20 gpt-4o/openai/build, in 300 out 40,
                                          $1.50, 3000 ms, failed
e05   tool_use     alpha  s1        u1    10:30 bash/build, 200 ms, ok
e06   tool_use     alpha  s1        u1    11:10 bash/build, 400 ms, failed
e07   error        alpha  s1        u1    11:20 "boom"
e08   session_end  alpha  s1        u1    11:30
e09   heartbeat    alpha                  11:59:10, e10 11:59:30, e11 11:59:50
e12   session_st.  beta   s2        u2    11:00
e13   llm_call     beta   s2        u2    11:15 claude-x/anthropic/plan, in 1000 out 100,
                                          $2.00, 5000 ms, ok
e14   llm_call     beta   s2        u2    11:40 mystery/acme/plan, in 50 out 5, no cost
                                          (unpriced), 2000 ms, ok
e15   llm_call     alpha            u1    yesterday 12:00 gpt-4o/openai/build, in 10
                                          out 1, $0.25, 500 ms, ok
====  ===========  =====  ========  ====  ==============================================

Metric points (alpha): gpu_util (%) gpu 0 = 50 at NOW-100s and 90 at NOW-40s, gpu 1 =
70 at NOW-60s; gpu_mem (GiB) gpu 0 = 4 at NOW-30s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from stacklens.alerting.signals import SIGNALS, Condition, build_query
from stacklens.analytics.analytics_service import Analytics
from stacklens.analytics.backfill import backfill
from stacklens.analytics.budgets import Budget, budget_report
from stacklens.analytics.collector import StackMetricsCollector
from stacklens.analytics.export import billing_records, user_export
from stacklens.analytics.pricing import PriceOverride, Pricer
from stacklens.analytics.queries import Filters
from stacklens.schema import EventRow, MetricRow
from stacklens.store.base import EventQuery, RejectedDataError
from stacklens.testing.backends import BACKENDS, Backend, backend_id

S = 10**9
DAY0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z
NOW = DAY0 + 12 * 3600 * S
TODAY = Filters(since_ns=DAY0, until_ns=DAY0 + 86400 * S, step_s=3600)


def at(hour: int, minute: int, second: int = 0) -> int:
    """2026-01-15 hour:minute:second UTC, epoch ns."""
    return DAY0 + (hour * 3600 + minute * 60 + second) * S


def iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns // S, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def ev(event_id: str, ts: int, event_type: str, stack: str = "alpha", **fields: Any) -> EventRow:
    return EventRow(
        event_id=event_id,
        ts=ts,
        stack_name=stack,
        event_type=event_type,
        received_ns=NOW,
        **fields,
    )


S1 = {"session_id": "s1", "user_id": "u1"}
S2 = {"session_id": "s2", "user_id": "u2"}
GPT = {"model": "gpt-4o", "provider": "openai", "agent": "build"}

EVENTS = [
    ev("e01", at(10, 0), "session_start", **S1),
    ev("e02", at(10, 5), "message", role="user", agent="build", **S1),
    ev(
        "e03",
        at(10, 10),
        "llm_call",
        tokens_in=100,
        tokens_out=20,
        tokens_cache_read=100,
        cost_usd=0.5,
        duration_ms=1000.0,
        success=True,
        **S1,
        **GPT,
    ),
    ev(
        "e04",
        at(10, 20),
        "llm_call",
        tokens_in=300,
        tokens_out=40,
        cost_usd=1.5,
        duration_ms=3000.0,
        success=False,
        **S1,
        **GPT,
    ),
    ev(
        "e05",
        at(10, 30),
        "tool_use",
        tool="bash",
        agent="build",
        success=True,
        duration_ms=200.0,
        **S1,
    ),
    ev(
        "e06",
        at(11, 10),
        "tool_use",
        tool="bash",
        agent="build",
        success=False,
        duration_ms=400.0,
        **S1,
    ),
    ev("e07", at(11, 20), "error", message="boom", **S1),
    ev("e08", at(11, 30), "session_end", **S1),
    ev("e09", at(11, 59, 10), "heartbeat"),
    ev("e10", at(11, 59, 30), "heartbeat"),
    ev("e11", at(11, 59, 50), "heartbeat"),
    ev("e12", at(11, 0), "session_start", "beta", **S2),
    ev(
        "e13",
        at(11, 15),
        "llm_call",
        "beta",
        model="claude-x",
        provider="anthropic",
        agent="plan",
        tokens_in=1000,
        tokens_out=100,
        cost_usd=2.0,
        duration_ms=5000.0,
        success=True,
        **S2,
    ),
    ev(
        "e14",
        at(11, 40),
        "llm_call",
        "beta",
        model="mystery",
        provider="acme",
        agent="plan",
        tokens_in=50,
        tokens_out=5,
        duration_ms=2000.0,
        success=True,
        **S2,
    ),
    ev(
        "e15",
        NOW - 86400 * S,
        "llm_call",
        user_id="u1",
        tokens_in=10,
        tokens_out=1,
        cost_usd=0.25,
        duration_ms=500.0,
        success=True,
        **GPT,
    ),
]


def pt(point_id: str, ts: int, name: str, value: float, gpu: str, unit: str) -> MetricRow:
    return MetricRow(
        point_id=point_id,
        ts=ts,
        stack_name="alpha",
        name=name,
        kind="gauge",
        unit=unit,
        attributes=msgspec.json.encode({"gpu_id": gpu}).decode(),
        value=value,
        received_ns=NOW,
    )


POINTS = [
    pt("p1", NOW - 100 * S, "gpu_util", 50.0, "0", "%"),
    pt("p2", NOW - 40 * S, "gpu_util", 90.0, "0", "%"),
    pt("p3", NOW - 60 * S, "gpu_util", 70.0, "1", "%"),
    pt("p4", NOW - 30 * S, "gpu_mem", 4.0, "0", "GiB"),
]


@pytest.fixture(params=BACKENDS, ids=backend_id)
def fresh(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Backend]:
    """An empty store of each backend."""
    backend: Backend = request.param(tmp_path)
    yield backend
    backend.store.close()


@pytest.fixture(scope="module", params=BACKENDS, ids=backend_id)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """Each backend with the dataset loaded (read-only for the tests that use it)."""
    backend: Backend = request.param(tmp_path_factory.mktemp("conformance"))
    backend.load(EVENTS[:8])
    backend.load(EVENTS[8:])
    backend.load(POINTS, "metrics")
    yield backend
    backend.store.close()


@pytest.fixture
def analytics(loaded: Backend) -> Analytics:
    return Analytics(loaded.store, clock=lambda: NOW)


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["event_id"] for r in rows]


# -- append, dedup, replay, checkpoints ------------------------------------------------


def test_append_reads_back_every_column(fresh: Backend) -> None:
    row = EventRow(
        event_id="full",
        ts=at(10, 0, 1) + 123_456_000,
        stack_name="alpha",
        event_type="llm_call",
        session_id="s",
        trace_id="t",
        span_id="sp",
        parent_span_id="pp",
        user_id="u",
        service="svc",
        level="info",
        message="m",
        role="assistant",
        model="gpt-4o",
        provider="openai",
        agent="build",
        tool="bash",
        tokens_in=1,
        tokens_out=2,
        tokens_cache_read=3,
        tokens_cache_write=4,
        tokens_reasoning=5,
        cost_usd=0.125,
        duration_ms=6.5,
        success=True,
        error_code="E1",
        status_code=200,
        method="POST",
        path="/v1",
        content_hash="h",
        content_length=7,
        word_count=8,
        score=0.75,
        comment="c",
        content="body",
        command="ls",
        file_path="/f",
        url="http://x",
        args_hash="a",
        attributes='{"team": "ml", "n": 1}',
        received_ns=NOW,
    )
    assert fresh.load([row]).inserted == 1
    [got] = fresh.store.query_events(EventQuery())
    expected = {
        k: v
        for k, v in msgspec.structs.asdict(row).items()
        if k not in ("ts", "attributes", "received_ns")
    }
    expected |= {
        "timestamp": "2026-01-15T10:00:01.123456Z",
        "timestamp_ns": at(10, 0, 1) + 123_456_000,
        "attributes": {"team": "ml", "n": 1},
    }
    assert got == expected
    assert fresh.store.count_events() == 1


def test_event_listing_filters_and_order(loaded: Backend) -> None:
    store = loaded.store
    assert ids(store.query_events(EventQuery(limit=3))) == ["e11", "e10", "e09"]
    assert ids(store.query_events(EventQuery(stacks=("beta",)))) == ["e14", "e13", "e12"]
    assert ids(store.query_events(EventQuery(event_type="tool_use"))) == ["e06", "e05"]
    assert ids(store.query_events(EventQuery(session_id="s2", limit=1))) == ["e14"]
    window = EventQuery(since_ns=at(11, 10), until_ns=at(11, 30))
    assert ids(store.query_events(window)) == ["e07", "e13", "e06"]
    assert store.count_events() == 15


def test_replayed_segment_and_retried_event_are_stored_once(fresh: Backend) -> None:
    store = fresh.store
    first = fresh.directory / "replay.ndjson"
    first.write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in EVENTS[:4]))
    assert store.load_segments("events", [(1, first)]).inserted == 4
    # A crash after the load, before the spool saw it: the same segment again.
    again = store.load_segments("events", [(1, first)])
    assert (again.read, again.inserted) == (4, 0)
    # A client's retry a minute later (same event_id, new receive time) beside a new one.
    retry = msgspec.structs.replace(EVENTS[3], received_ns=NOW + 60 * S)
    later = fresh.load([retry, EVENTS[4]])
    assert (later.read, later.inserted) == (2, 1)
    # A segment naming one event twice keeps one.
    assert fresh.load([EVENTS[5], EVENTS[5]]).inserted == 1
    assert store.count_events() == 6
    # The rollups counted each event once: 6 events, 2 llm calls, 400 tokens in.
    a = Analytics(store, clock=lambda: NOW)
    [totals] = a.breakdown(TODAY, "stack_name", ("events", "llm_calls", "tokens_in"))
    assert (totals["events"], totals["llm_calls"], totals["tokens_in"]) == (6, 2, 400)


def test_checkpoint_advances_with_the_rows_or_not_at_all(fresh: Backend) -> None:
    store = fresh.store
    assert store.checkpoint("events") == 0
    fresh.load_raw("events", [(1, msgspec.json.encode(EVENTS[0]) + b"\n")])
    assert store.checkpoint("events") == 1
    good = msgspec.json.encode(EVENTS[1]) + b"\n"
    with pytest.raises(RejectedDataError):
        fresh.load_raw("events", [(2, good), (3, b"{not json\n")])
    assert store.checkpoint("events") == 1  # neither the rows nor the checkpoint
    assert store.count_events() == 1
    fresh.load_raw("events", [(2, good)])
    assert (store.checkpoint("events"), store.count_events()) == (2, 2)
    assert store.checkpoint("metrics") == 0  # per stream


# -- analytics: every public query, figures by hand ----------------------------------


def test_usage_series_from_rollup_and_raw_events(analytics: Analytics) -> None:
    measures = ("events", "messages", "llm_calls", "tokens_in", "cost_usd")
    rows = analytics.series(TODAY, measures)  # aligned: usage_hourly
    assert [(r["time"], *(r[m] for m in measures)) for r in rows] == [
        (iso(at(10, 0)), 5, 1, 2, 400, pytest.approx(2.0)),
        (iso(at(11, 0)), 9, 0, 2, 1050, pytest.approx(2.0)),
    ]
    raw = analytics.series(msgspec.structs.replace(TODAY, user="u1"), measures)  # raw events
    assert [(r["time"], *(r[m] for m in measures)) for r in raw] == [
        (iso(at(10, 0)), 5, 1, 2, 400, pytest.approx(2.0)),
        (iso(at(11, 0)), 3, 0, 0, 0, None),
    ]
    grouped = analytics.series(TODAY, ("events",), group_by="stack_name")
    assert [(r["bucket_ns"], r["stack_name"], r["events"]) for r in grouped] == [
        (at(10, 0), "alpha", 5),
        (at(11, 0), "alpha", 6),
        (at(11, 0), "beta", 3),
    ]
    five_min = msgspec.structs.replace(TODAY, step_s=300, stacks=("beta",))
    assert [(r["bucket_ns"], r["events"]) for r in analytics.series(five_min, ("events",))] == [
        (at(11, 0), 1),
        (at(11, 15), 1),
        (at(11, 40), 1),
    ]


def test_breakdown_error_rate_tokens_tools_agents(analytics: Analytics) -> None:
    by_type = analytics.breakdown(TODAY, "event_type", ("events",))
    assert [(r["event_type"], r["events"]) for r in by_type] == [
        ("llm_call", 4),
        ("heartbeat", 3),
        ("session_start", 2),
        ("tool_use", 2),
        ("error", 1),
        ("message", 1),
        ("session_end", 1),
    ]
    # errors: e04 (failed call), e06 (failed tool), e07; requests: 1 message + 4 calls + 2 tools
    assert analytics.error_rate(TODAY) == {"errors": 3, "requests": 7, "error_rate": 3 / 7}
    tokens = analytics.tokens(TODAY)
    assert [
        (r["model"], r["tokens_in"], r["tokens_out"], r["tokens_cache_read"], r["tokens_total"])
        for r in tokens
    ] == [
        ("claude-x", 1000, 100, 0, 1100),
        ("gpt-4o", 400, 60, 100, 460),
        ("mystery", 50, 5, 0, 55),
    ]
    assert [(r["cost_usd"], r["llm_calls"], r["unpriced"]) for r in tokens] == [
        (pytest.approx(2.0), 1, 0),
        (pytest.approx(2.0), 2, 0),
        (None, 1, 1),  # every call unpriced: no cost, not $0
    ]
    assert analytics.tools(TODAY) == [
        {"tool": "bash", "calls": 2, "failures": 1, "error_rate": 0.5, "mean_duration_ms": 300.0}
    ]
    agents = analytics.agents(TODAY)
    keys = ("agent", "requests", "messages", "llm_calls", "tool_calls", "errors")
    assert [tuple(r[k] for k in keys) for r in agents] == [
        ("build", 5, 1, 2, 2, 2),
        ("plan", 2, 0, 2, 0, 0),
    ]
    assert [(r["tokens_in"], r["tokens_out"], r["cost_usd"]) for r in agents] == [
        (400, 60, pytest.approx(2.0)),
        (1050, 105, pytest.approx(2.0)),
    ]


def test_latency_percentiles_are_interpolated(analytics: Analytics) -> None:
    # today's llm_call durations: 1000, 2000, 3000, 5000 ms
    result = analytics.latency(TODAY, by_model=True)
    overall = result["overall"]
    assert (overall["count"], overall["mean_ms"], overall["max_ms"]) == (4, 2750.0, 5000.0)
    # p50 at rank 1.5 → 2500; p95 at 2.85 → 3000 + 0.85 x 2000; p99 at 2.97 → 4940
    assert (overall["p50_ms"], overall["p95_ms"], overall["p99_ms"]) == pytest.approx(
        (2500.0, 4700.0, 4940.0)
    )
    by_model = [
        (r["model"], r["count"], r["mean_ms"], r["p50_ms"], r["p95_ms"], r["p99_ms"], r["max_ms"])
        for r in result["by_model"]
    ]
    assert by_model == [
        ("gpt-4o", 2, 2000.0, 2000.0, pytest.approx(2900.0), pytest.approx(2980.0), 3000.0),
        ("claude-x", 1, 5000.0, 5000.0, 5000.0, 5000.0, 5000.0),
        ("mystery", 1, 2000.0, 2000.0, 2000.0, 2000.0, 2000.0),
    ]


def test_error_log_newest_first(analytics: Analytics) -> None:
    log = analytics.error_log(TODAY)
    assert [(r["event_id"], r["event_type"], r["timestamp"]) for r in log] == [
        ("e07", "error", iso(at(11, 20))),
        ("e06", "tool_use", iso(at(11, 10))),
        ("e04", "llm_call", iso(at(10, 20))),
    ]
    assert log[0]["message"] == "boom"
    assert len(analytics.error_log(TODAY, limit=2)) == 2


def test_active_stacks_and_heartbeat_health(analytics: Analytics) -> None:
    stacks = analytics.active_stacks(None)
    got = [
        (s["stack_name"], s["last_seen"], s["active"], s["heartbeat_regular"], s["health"])
        for s in stacks
    ]
    assert got == [
        # heartbeats every 20 s, the last 10 s ago: regular and up
        ("alpha", iso(at(11, 59, 50)), True, True, "up"),
        # last seen 11:40: outside the 15-minute active window, no heartbeat: not judged
        ("beta", iso(at(11, 40)), False, False, "unknown"),
    ]
    assert [s["stack_name"] for s in analytics.active_stacks(("beta",))] == ["beta"]


def test_overview_and_stack_dashboard(analytics: Analytics) -> None:
    overview = analytics.overview(TODAY)
    assert overview["active_stacks"] == 1
    assert overview["cost"] == pytest.approx(4.0)  # 0.5 + 1.5 + 2.0; e14 unpriced
    assert [(r["time"], r["messages"]) for r in overview["messages"]] == [
        (iso(at(10, 0)), 1),
        (iso(at(11, 0)), 0),
    ]
    assert [r["model"] for r in overview["tokens_by_model"]] == ["claude-x", "gpt-4o", "mystery"]
    assert [r["agent"] for r in overview["top_agents"]] == ["build", "plan"]
    assert overview["errors"]["errors"] == 3
    alpha = msgspec.structs.replace(TODAY, stacks=("alpha",))
    dash = analytics.stack_dashboard(alpha)
    assert [(r["time"], r["sessions"]) for r in dash["sessions"]] == [
        (iso(at(10, 0)), 1),
        (iso(at(11, 0)), 0),
    ]
    assert dash["latency"]["count"] == 2
    assert dash["errors"] == {"errors": 3, "requests": 5, "error_rate": 0.6}
    assert ids(dash["error_log"]) == ["e07", "e06", "e04"]
    assert dash["active_sessions"] == 0  # s1 ended
    # s2 has no session_end and an event (11:40) within the last 30 minutes
    assert analytics.stack_dashboard(TODAY)["active_sessions"] == 1


def test_sessions_list_and_timeline(analytics: Analytics) -> None:
    listed = analytics.sessions(TODAY)
    keys = (
        "session_id",
        "stack_name",
        "user_id",
        "events",
        "messages",
        "tool_calls",
        "llm_calls",
        "tokens_in",
        "tokens_out",
        "tokens_cache_read",
        "errors",
        "models",
        "agents",
        "start",
        "end",
        "duration_s",
    )
    # (s2 sent no cache-read counts at all: their sum is NULL, not 0)
    assert [tuple(r[k] for k in keys) for r in listed] == [
        (
            "s2", "beta", "u2", 3, 0, 0, 2, 1050, 105, None, 0, ["claude-x", "mystery"], ["plan"],
            iso(at(11, 0)), None, 2400.0,
        ),
        (
            "s1", "alpha", "u1", 8, 1, 2, 2, 400, 60, 100, 3, ["gpt-4o"], ["build"],
            iso(at(10, 0)), iso(at(11, 30)), 5400.0,
        ),
    ]  # fmt: skip
    assert [r["cost_usd"] for r in listed] == [pytest.approx(2.0), pytest.approx(2.0)]
    assert [r["session_id"] for r in analytics.sessions(TODAY, limit=1, offset=1)] == ["s1"]
    by_model = msgspec.structs.replace(TODAY, model="mystery")
    assert [r["session_id"] for r in analytics.sessions(by_model)] == ["s2"]
    later = msgspec.structs.replace(TODAY, since_ns=at(11, 35))  # s1's last event: 11:30
    assert [r["session_id"] for r in analytics.sessions(later)] == ["s2"]
    [one] = analytics.session("s1", None)
    assert one["summary"]["events"] == 8
    assert [e["event_id"] for e in one["events"]] == [f"e0{i}" for i in range(1, 9)]
    assert one["events"][6]["message"] == "boom"
    assert analytics.session("s1", ("beta",)) == []


def test_costs_by_every_dimension(analytics: Analytics) -> None:
    expected = {
        "stack_name": [("alpha", 2, 2.0), ("beta", 2, 2.0)],
        "model": [("gpt-4o", 2, 2.0), ("claude-x", 1, 2.0), ("mystery", 1, None)],
        "provider": [("openai", 2, 2.0), ("anthropic", 1, 2.0), ("acme", 1, None)],
        "agent": [("build", 2, 2.0), ("plan", 2, 2.0)],
        "user_id": [("u1", 2, 2.0), ("u2", 2, 2.0)],
        "day": [("2026-01-15", 4, 4.0)],
    }
    for by, rows in expected.items():
        report = analytics.costs(TODAY, by)
        assert [(r[by], r["calls"], r["cost_usd"]) for r in report["rows"]] == rows, by
    total = analytics.costs(TODAY, "day")["total"]
    assert (total["calls"], total["cost_usd"], total["tokens_in"], total["tokens_out"]) == (
        4,
        4.0,
        1450,
        165,
    )
    assert (total["unpriced"], total["unpriced_tokens_in"], total["unpriced_tokens_out"]) == (
        1,
        50,
        5,
    )
    two_days = msgspec.structs.replace(TODAY, since_ns=DAY0 - 86400 * S)
    days = analytics.costs(two_days, "day")["rows"]
    assert [(r["day"], r["calls"], r["cost_usd"]) for r in days] == [
        ("2026-01-14", 1, 0.25),
        ("2026-01-15", 4, 4.0),
    ]


def test_projection_month_usage_unpriced_users(analytics: Analytics) -> None:
    projection = analytics.projection(TODAY)
    # noon: half the day gone; 14.5 days of January's 31; month to date 4.0 + 0.25
    assert projection == {
        "today_usd": 4.0,
        "daily_projection_usd": 8.0,
        "month_to_date_usd": 4.25,
        "month_end_projection_usd": pytest.approx(4.25 / 14.5 * 31),
        "day_fraction_elapsed": 0.5,
        "month_days_elapsed": 14.5,
        "days_in_month": 31,
    }
    assert analytics.month_usage("alpha", NOW) == {"cost_usd": 2.25, "tokens": 471.0}
    assert analytics.unpriced(TODAY) == [
        {"provider": "acme", "model": "mystery", "events": 1, "last_day": "2026-01-15"}
    ]
    users = analytics.users(TODAY)
    assert [(u["user_id"], u["calls"], u["cost_usd"], u["sessions"]) for u in users] == [
        ("u1", 2, 2.0, 1),
        ("u2", 2, 2.0, 1),
    ]


def test_budget_utilization(analytics: Analytics) -> None:
    [report] = budget_report(analytics, [Budget("alpha", monthly_usd=10.0, monthly_tokens=1000)])
    factor = 31 / 14.5
    assert report == {
        "stack_name": "alpha",
        "monthly_usd": 10.0,
        "monthly_tokens": 1000,
        "used_usd": 2.25,
        "used_tokens": 471,
        "usd_utilization": pytest.approx(0.225),
        "tokens_utilization": pytest.approx(0.471),
        "projected_usd": pytest.approx(2.25 * factor),
        "projected_tokens": 1006,  # 471 x 31 / 14.5 = 1006.97
        "projected_usd_utilization": pytest.approx(0.225 * factor),
        "projected_tokens_utilization": pytest.approx(0.471 * factor),
        "status": "ok",
    }


def test_billing_records_and_user_export(analytics: Analytics) -> None:
    records = billing_records(analytics, "2026-01")
    keys = ("day", "stack_name", "user_id", "model", "provider", "calls", "tokens_in", "cost_usd")
    assert [tuple(r[k] for k in keys) for r in records] == [
        ("2026-01-14", "alpha", "u1", "gpt-4o", "openai", 1, 10, 0.25),
        ("2026-01-15", "alpha", "u1", "gpt-4o", "openai", 2, 400, 2.0),
        ("2026-01-15", "beta", "u2", "claude-x", "anthropic", 1, 1000, 2.0),
        ("2026-01-15", "beta", "u2", "mystery", "acme", 1, 50, None),  # unpriced: no cost
    ]
    assert billing_records(analytics, "2025-12") == []
    assert len(billing_records(analytics, "2026-01", ("beta",))) == 2
    mine = user_export(analytics, "u1", None)
    assert [s["session_id"] for s in mine["sessions"]] == ["s1"]
    assert [(b["day"], b["calls"]) for b in mine["billing"]] == [
        ("2026-01-14", 1),
        ("2026-01-15", 2),
    ]
    # oldest first: yesterday's call, then session s1
    assert ids(mine["events"]) == ["e15", *(f"e0{i}" for i in range(1, 9))]
    assert mine["events_truncated"] is False
    assert mine["events"][0]["timestamp"] == iso(NOW - 86400 * S)
    short = user_export(analytics, "u1", None, max_events=3)
    assert (ids(short["events"]), short["events_truncated"]) == (["e15", "e01", "e02"], True)
    assert user_export(analytics, "u1", ("beta",))["events"] == []


def test_prometheus_collector_families(loaded: Backend) -> None:
    collector = StackMetricsCollector(loaded.store, lambda: NOW, cache_s=0.0)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in collector.collect()
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    alpha, beta = {"stack_name": "alpha"}, {"stack_name": "beta"}
    assert (
        value("opencode_sessions_total", **alpha) == value("opencode_sessions_total", **beta) == 1
    )
    message = {"role": "user", "model": "unknown", "agent": "build"}
    assert value("opencode_messages_total", **alpha, **message) == 1
    gpt = {**alpha, "model": "gpt-4o"}
    # every load counts, yesterday's e15 too: 100 + 300 + 10 in, 20 + 40 + 1 out
    assert value("opencode_tokens_total", **gpt, direction="input") == 410
    assert value("opencode_tokens_total", **gpt, direction="output") == 61
    assert value("opencode_tokens_total", **gpt, direction="cache_read") == 100
    assert value("opencode_tokens_total", **beta, model="mystery", direction="input") == 50
    assert value("opencode_tool_invocations_total", **alpha, tool="bash", success="true") == 1
    assert value("opencode_tool_invocations_total", **alpha, tool="bash", success="false") == 1
    assert value("opencode_errors_total", **alpha) == 3
    assert value("stacklens_cost_usd_total", **gpt) == pytest.approx(2.25)
    assert value("stacklens_cost_usd_total", **beta, model="claude-x") == 2.0
    unpriced = {**beta, "model": "mystery", "provider": "acme"}
    assert value("stacklens_unpriced_events_total", **unpriced) == 1
    assert value("stacklens_stack_events_total", **alpha, event_type="llm_call") == 3
    assert value("stacklens_stack_events_total", **alpha, event_type="heartbeat") == 3
    # gpt-4o durations 500, 1000, 3000 ms
    histogram = "opencode_response_duration_seconds"
    assert value(f"{histogram}_bucket", **gpt, le="0.5") == 1
    assert value(f"{histogram}_bucket", **gpt, le="1.0") == 2
    assert value(f"{histogram}_bucket", **gpt, le="2.0") == 2
    assert value(f"{histogram}_bucket", **gpt, le="5.0") == 3
    assert value(f"{histogram}_bucket", **gpt, le="+Inf") == 3
    assert value(f"{histogram}_sum", **gpt) == 4.5
    assert value("opencode_active_sessions", **alpha) == 0
    assert value("opencode_active_sessions", **beta) == 1
    assert value("stacklens_stack_last_seen_timestamp_seconds", **alpha) == at(11, 59, 50) / S
    assert value("stacklens_stack_up", **alpha) == 1
    assert value("stacklens_stack_up", **beta) == 0  # last seen 20 minutes ago


# -- every alert signal --------------------------------------------------------------

WINDOW_S = 3 * 3600  # 09:00 (exclusive) to NOW: every event of today, not e15

#: signal → (params, by, expected {series: value}), worked out from the dataset.
SIGNAL_CASES: dict[
    str, list[tuple[dict[str, Any], tuple[str, ...], dict[tuple[Any, ...], Any]]]
] = {
    "event_count": [({}, ("stack_name",), {("alpha",): 11, ("beta",): 3})],
    "event_rate": [({}, ("stack_name",), {("alpha",): 11 / WINDOW_S, ("beta",): 3 / WINDOW_S})],
    "error_count": [({}, ("stack_name",), {("alpha",): 3, ("beta",): 0})],
    "error_rate": [({}, ("stack_name",), {("alpha",): 3 / WINDOW_S, ("beta",): 0.0})],
    # errors per llm_call/tool_use: alpha 3 of 4, beta 0 of 2
    "error_ratio": [({}, ("stack_name",), {("alpha",): 0.75, ("beta",): 0.0})],
    "tool_error_ratio": [({}, ("stack_name",), {("alpha",): 0.5})],
    "tokens": [
        ({}, ("stack_name",), {("alpha",): 560, ("beta",): 1155}),  # in+out+cache_read
        ({"direction": "input"}, ("stack_name",), {("alpha",): 400, ("beta",): 1050}),
        (
            {"direction": "cache_read"},
            ("stack_name", "user_id"),
            {("alpha", "u1"): 100, ("alpha", None): 0, ("beta", "u2"): 0},  # None: heartbeats
        ),
    ],
    "cost": [
        ({}, ("stack_name",), {("alpha",): 2.0, ("beta",): 2.0}),
        (
            {},
            ("model",),
            {("gpt-4o",): 2.0, ("claude-x",): 2.0, ("mystery",): 0.0, (None,): 0.0},
        ),
    ],
    "budget_utilization": [
        ({"budget_usd": 8}, ("stack_name",), {("alpha",): 0.25, ("beta",): 0.25})
    ],
    # alpha: 1000, 3000 ms → median 2 s; beta: 2000, 5000 → 3.5 s
    "latency_quantile": [({"quantile": 0.5}, ("stack_name",), {("alpha",): 2.0, ("beta",): 3.5})],
    "last_seen_age": [
        ({}, ("stack_name",), {("alpha",): 10.0, ("beta",): 1200.0}),
        ({"min_heartbeats": 3}, ("stack_name",), {("alpha",): 10.0}),  # beta: no heartbeat
    ],
    # post signal: (age, regular heartbeat) per stack, compared in Python
    "stack_up": [({}, ("stack_name",), {("alpha",): (10.0, True), ("beta",): (1200.0, False)})],
    # read / (in + read): alpha 100 / 500, beta 0 / 1050
    "cache_hit_ratio": [({}, ("stack_name",), {("alpha",): 0.2, ("beta",): 0.0})],
    "active_sessions": [({}, ("stack_name",), {("alpha",): 1, ("beta",): 1})],
    "metric_value": [
        ({"metric": "gpu_util"}, ("stack_name",), {("alpha",): 90.0}),  # newest: NOW-40s
        ({"metric": "gpu_util"}, ("attributes.gpu_id",), {("0",): 90.0, ("1",): 70.0}),
        ({"metric": "gpu_util", "aggregate": "avg"}, ("stack_name",), {("alpha",): 70.0}),
        ({"metric": "gpu_util", "aggregate": "min"}, ("stack_name",), {("alpha",): 50.0}),
        ({"metric": "gpu_util", "aggregate": "sum"}, ("stack_name",), {("alpha",): 210.0}),
        ({"metric": "gpu_util", "divide_by": "gpu_mem"}, ("stack_name",), {("alpha",): 22.5}),
    ],
}


def test_every_signal_has_a_case() -> None:
    assert set(SIGNAL_CASES) == set(SIGNALS)


def _evaluate(
    backend: Backend, signal: str, params: dict[str, Any], by: tuple[str, ...]
) -> dict[tuple[Any, ...], Any]:
    condition = Condition(signal, WINDOW_S * S, ">", -1.0, by, (), params)
    statement, values = build_query(condition, NOW, dialect=backend.store.dialect)
    rows = backend.store.fetch(statement, values).rows
    width = len(by)
    if SIGNALS[signal].post:
        return {tuple(r[:width]): (pytest.approx(r[width]), bool(r[width + 1])) for r in rows}
    return {tuple(r[:width]): r[width] for r in rows}


@pytest.mark.parametrize("signal", sorted(SIGNAL_CASES))
def test_signal(loaded: Backend, signal: str) -> None:
    for params, by, expected in SIGNAL_CASES[signal]:
        got = _evaluate(loaded, signal, params, by)
        assert got == {
            k: pytest.approx(v) if not isinstance(v, tuple) else v for k, v in expected.items()
        }, (
            params,
            by,
        )


def test_signal_threshold_is_applied_in_the_query(loaded: Backend) -> None:
    condition = Condition("event_count", WINDOW_S * S, ">", 5.0, ("stack_name",))
    statement, values = build_query(condition, NOW, dialect=loaded.store.dialect)
    assert loaded.store.fetch(statement, values).rows == [("alpha", 11)]


# -- metric points -------------------------------------------------------------------


def test_metric_points_query_names_and_dedup(loaded: Backend) -> None:
    store = loaded.store
    got = store.query_metric_points(
        name="gpu_util", stacks=None, since_ns=None, until_ns=None, limit=10
    )
    assert [(p["point_id"], p["value"], p["attributes"]) for p in got] == [
        ("p2", 90.0, {"gpu_id": "0"}),
        ("p3", 70.0, {"gpu_id": "1"}),
        ("p1", 50.0, {"gpu_id": "0"}),
    ]
    assert got[0]["timestamp"] == iso(NOW - 40 * S) and got[0]["unit"] == "%"
    window = store.query_metric_points(
        name=None, stacks=("alpha",), since_ns=NOW - 60 * S, until_ns=NOW - 30 * S, limit=10
    )
    assert [p["point_id"] for p in window] == ["p2", "p3"]
    assert (
        store.query_metric_points(
            name=None, stacks=("beta",), since_ns=None, until_ns=None, limit=10
        )
        == []
    )
    assert store.metric_names(None) == [
        {
            "name": "gpu_mem",
            "kind": "gauge",
            "unit": "GiB",
            "points": 1,
            "last_seen": iso(NOW - 30 * S),
        },
        {
            "name": "gpu_util",
            "kind": "gauge",
            "unit": "%",
            "points": 3,
            "last_seen": iso(NOW - 40 * S),
        },
    ]
    assert store.metric_names(("beta",)) == []


def test_metric_point_every_column_and_retry(fresh: Backend) -> None:
    point = MetricRow(
        point_id="h1",
        ts=NOW - 5 * S,
        stack_name="alpha",
        name="latency",
        kind="histogram",
        service="svc",
        unit="s",
        attributes='{"route": "/v1"}',
        count=6,
        bounds=[0.5, 1.0],
        bucket_counts=[1, 2, 3],
        monotonic=False,
        temporality="cumulative",
        start_ts=NOW - 65 * S,
        received_ns=NOW,
    )
    assert fresh.load([point], "metrics").inserted == 1
    retried = msgspec.structs.replace(point, received_ns=NOW + 5 * S)
    assert fresh.load([retried], "metrics").inserted == 0  # an exporter's retry
    [got] = fresh.store.query_metric_points(
        name="latency", stacks=None, since_ns=None, until_ns=None, limit=10
    )
    assert got == {
        "point_id": "h1",
        "timestamp": iso(NOW - 5 * S),
        "timestamp_ns": NOW - 5 * S,
        "stack_name": "alpha",
        "name": "latency",
        "kind": "histogram",
        "service": "svc",
        "unit": "s",
        "attributes": {"route": "/v1"},
        "count": 6,
        "bounds": [0.5, 1.0],
        "bucket_counts": [1, 2, 3],
        "monotonic": False,
        "temporality": "cumulative",
        "start_timestamp": iso(NOW - 65 * S),
    }
    assert fresh.store.checkpoint("metrics") == 2


# -- dropping a day --------------------------------------------------------------------


def test_drop_day_removes_that_day_only(fresh: Backend) -> None:
    fresh.load(EVENTS)
    fresh.load(POINTS, "metrics")
    store = fresh.store
    store.drop_day("events", dt.date(2026, 1, 14))
    assert store.count_events() == 14
    assert "e15" not in ids(store.query_events(EventQuery(limit=100)))
    store.drop_day("events", dt.date(2026, 1, 16))  # nothing that day
    assert store.count_events() == 14
    store.drop_day("metrics", dt.date(2026, 1, 15))
    assert store.metric_names(None) == []
    assert store.count_events() == 14  # another table's day is untouched


# -- repricing (the one write besides loads) -------------------------------------------


def test_backfill_reprices_through_the_store(fresh: Backend) -> None:
    fresh.load(EVENTS)
    store = fresh.store
    a = Analytics(store, clock=lambda: NOW)
    pricer = Pricer({"acme/mystery": PriceOverride(input_per_mtok=1.0, output_per_mtok=2.0)})
    # Candidates: calls with tokens and no client-sent cost: e14 only.
    result = backfill(store, pricer, DAY0 - 86400 * S)
    assert (result.examined, result.repriced, result.unpriced) == (1, 1, 0)
    mystery = (50 * 1.0 + 5 * 2.0) / 1e6
    [e14] = store.query_events(EventQuery(event_type="llm_call", stacks=("beta",), limit=1))
    assert (e14["event_id"], e14["cost_usd"]) == ("e14", pytest.approx(mystery))
    assert e14["attributes"] == {"cost_source": "override"}
    by_model = {r["model"]: r for r in a.costs(TODAY, "model")["rows"]}
    assert (by_model["mystery"]["cost_usd"], by_model["mystery"]["unpriced"]) == (
        pytest.approx(mystery),
        0,
    )
    assert a.unpriced(TODAY) == []
    assert a.tokens(TODAY)[-1]["cost_usd"] == pytest.approx(mystery)  # usage_hourly
    s2 = a.sessions(TODAY)[0]
    assert (s2["session_id"], s2["cost_usd"]) == ("s2", pytest.approx(2.0 + mystery))
    # Again: e14 is a candidate now (hub-priced) but its cost does not change.
    assert backfill(store, pricer, DAY0).repriced == 0
    # The override withdrawn: the cost, its source and the rollups' figures go back.
    pricer.overrides.clear()
    assert backfill(store, pricer, DAY0).repriced == 1
    [e14] = store.query_events(EventQuery(event_type="llm_call", stacks=("beta",), limit=1))
    assert "cost_usd" not in e14 and "attributes" not in e14
    assert a.unpriced(TODAY) == [
        {"provider": "acme", "model": "mystery", "events": 1, "last_day": "2026-01-15"}
    ]
    assert a.costs(TODAY, "day")["total"]["cost_usd"] == pytest.approx(4.0)
