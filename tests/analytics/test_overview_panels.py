"""The overview reads its four rollup panels (messages per hour, tokens by model, the
error rate, top agents) in one ``GROUPING SETS`` statement, and the stack dashboard its
four (sessions and tokens per hour, tokens by model, the error rate) in another (issue
15: on ClickHouse each read of the parts table costs ~10 ms). Each panel must be what
its own query gives: the same rows, order, ties and cut-offs, on both stores and both
sources.

Data (UTC, ``NOW`` = 2026-01-15 12:00, stack alpha unless said): 12 agents ``a00`` ..
``a11`` each with ``11 - i`` messages in the 10:00 hour (a10 and a11 tie at one and
zero, a11 has only a tool call); models ``m1`` (2 calls, 300 tokens in), ``m2`` (1
call, 300 in: ties m1 on tokens in, fewer out) and ``m3`` (unpriced); one error log;
events without an agent; stack beta has one message at 11:10; sessions start at 10:00
(alpha) and 11:09 (beta).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from stacklens.analytics.analytics_service import Analytics
from stacklens.analytics.queries import Filters
from stacklens.schema import EventRow
from stacklens.testing.backends import BACKENDS, Backend, backend_id

S = 10**9
HOUR = 3600 * S
DAY0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z
NOW = DAY0 + 12 * HOUR
TODAY = Filters(since_ns=DAY0, until_ns=DAY0 + 24 * HOUR)


def at(hour: int, minute: int = 0, second: int = 0) -> int:
    return DAY0 + ((hour * 60 + minute) * 60 + second) * S


def rows() -> list[EventRow]:
    out: list[EventRow] = []

    def ev(event_type: str, ts: int, **fields: Any) -> None:
        fields.setdefault("stack_name", "alpha")
        out.append(
            EventRow(
                event_id=f"e{len(out):03d}",
                ts=ts,
                event_type=event_type,
                received_ns=NOW,
                **fields,
            )
        )

    ev("session_start", at(10), session_id="s1")
    ev("session_start", at(11, 9), stack_name="beta", session_id="s2")
    for i in range(12):
        for n in range(11 - i):
            ev("message", at(10, i, n), role="user", agent=f"a{i:02d}", session_id="s1")
    ev("tool_use", at(10, 30), agent="a11", tool="bash", success=False)
    llm = {"provider": "p", "agent": "a00", "session_id": "s1"}
    ev("llm_call", at(10, 40), model="m1", tokens_in=100, tokens_out=50, cost_usd=1.0, **llm)
    ev("llm_call", at(11, 5), model="m1", tokens_in=200, tokens_out=50, cost_usd=2.0, **llm)
    ev("llm_call", at(11, 6), model="m2", tokens_in=300, tokens_out=10, cost_usd=0.5, **llm)
    ev("llm_call", at(11, 7), model="m3", tokens_in=5, tokens_out=5, **llm)
    ev("log", at(11, 8), level="error", message="boom", service="gw")
    ev("message", at(11, 10), role="user", stack_name="beta", session_id="s2")
    return out


@pytest.fixture(scope="module", params=BACKENDS, ids=backend_id)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    loaded: Backend = request.param(tmp_path_factory.mktemp("overview"))
    loaded.load(rows())
    yield loaded
    loaded.store.close()


@pytest.fixture
def analytics(backend: Backend) -> Analytics:
    return Analytics(backend.store, clock=lambda: NOW)


def separately(analytics: Analytics, f: Filters) -> dict[str, Any]:
    return {
        "messages": analytics.series(f, ("messages",)),
        "tokens_by_model": analytics.tokens(f, "model"),
        "errors": analytics.error_rate(f),
        "top_agents": analytics.agents(f),
    }


def text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


WINDOWS = {
    "hourly": TODAY,
    "raw, unaligned": Filters(since_ns=at(9, 59, 1), until_ns=at(11, 59, 59), step_s=600),
    "one stack": msgspec.structs.replace(TODAY, stacks=("alpha",)),
    "one model": msgspec.structs.replace(TODAY, model="m1"),
}


@pytest.mark.parametrize("window", WINDOWS, ids=str)
def test_each_panel_is_what_its_own_query_gives(analytics: Analytics, window: str) -> None:
    f = WINDOWS[window]
    assert text(analytics.overview_panels(f)) == text(separately(analytics, f))


@pytest.mark.parametrize("window", WINDOWS, ids=str)
def test_each_dashboard_panel_is_what_its_own_query_gives(
    analytics: Analytics, window: str
) -> None:
    f = WINDOWS[window]
    tokens = ("tokens_in", "tokens_out", "tokens_cache_read", "cost_usd")
    dashboard = analytics.stack_dashboard(f)
    assert text({k: dashboard[k] for k in ("sessions", "tokens", "tokens_by_model", "errors")}) == (
        text(
            {
                "sessions": analytics.series(f, ("sessions",)),
                "tokens": analytics.series(f, tokens),
                "tokens_by_model": analytics.tokens(f, "model"),
                "errors": analytics.error_rate(f),
            }
        )
    )
    hourly = analytics.stack_dashboard(TODAY)
    assert [(r["time"][11:16], r["sessions"]) for r in hourly["sessions"]] == [
        ("10:00", 1),
        ("11:00", 1),
    ]
    assert [(r["time"][11:16], r["tokens_in"]) for r in hourly["tokens"]] == [
        ("10:00", 100),
        ("11:00", 505),
    ]


def test_the_panels_by_hand(analytics: Analytics) -> None:
    panels = analytics.overview_panels(TODAY)
    # 66 agent messages at 10:00, beta's one at 11:00
    assert [(r["time"][11:16], r["messages"]) for r in panels["messages"]] == [
        ("10:00", 66),
        ("11:00", 1),
    ]
    # m1 and m2 tie on tokens in (300); tokens in + out puts m1 first; m3 is unpriced
    models = [(r["model"], r["tokens_total"], r["cost_usd"]) for r in panels["tokens_by_model"]]
    assert models == [("m1", 400, pytest.approx(3.0)), ("m2", 310, 0.5), ("m3", 10, None)]
    # requests: messages, llm calls and tool uses; errors: the failed tool, the error log
    assert panels["errors"] == {"errors": 2, "requests": 72, "error_rate": pytest.approx(2 / 72)}
    # a00: 11 messages + 4 calls; then a01..a09; ten agents, a10 and a11 cut off
    agents = [(r["agent"], r["requests"]) for r in panels["top_agents"]]
    assert agents == [("a00", 15), *((f"a{i:02d}", 11 - i) for i in range(1, 10))]
    assert [r["agent"] for r in analytics.overview_panels(TODAY, agents=12)["top_agents"]][-2:] == [
        "a10",
        "a11",
    ]
