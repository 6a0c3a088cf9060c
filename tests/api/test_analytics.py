"""The analytics query API over a hand-checked dataset (tests/analytics/analytics_dataset.py).

Every expected figure below is computed by hand in the comments.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import stacklens.api.analytics  # noqa: F401  (declares the budgets table)
from stacklens.analytics.pricing import PriceOverride, Pricer
from stacklens.testing import ManualClock, in_process_hub
from stacklens.testing.analytics import wire
from stacklens.testing.dataset import (
    ALPHA_COST,
    COST_CLAUDE,
    COST_CLIENT,
    COST_MINI_1,
    COST_MINI_BETA,
    NOW_NS,
    TOTAL_COST,
    events,
)

WINDOW = {"since": "2026-01-10T10:00:00Z", "until": "2026-01-10T12:00:00Z"}


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    with in_process_hub(tmp_path / "data", clock=ManualClock(NOW_NS)) as (hub, client):
        wire(hub, client.app)
        response = client.post("/v1/events", json=events())
        assert response.json()["accepted"] == 15, response.text
        hub.flush()
        yield hub, client


def get(client: Any, path: str, **params: Any) -> Any:
    response = client.get(path, params={**WINDOW, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_overview(loaded: tuple[Any, Any]) -> None:
    _, client = loaded
    body = get(client, "/api/v1/overview")
    # alpha's last event 11:05 is 40 min before 11:45; beta's heartbeat 11:40 is 5 min.
    assert body["active_stacks"] == 1
    assert [(s["stack_name"], s["active"]) for s in body["stacks"]] == [
        ("alpha", False),
        ("beta", True),
    ]
    # messages: 10:00 hour has alpha's 2, 11:00 hour has beta's 1.
    assert [(m["time"][:16], m["messages"]) for m in body["messages"]] == [
        ("2026-01-10T10:00", 2),
        ("2026-01-10T11:00", 1),
    ]
    tokens = {r["model"]: (r["tokens_in"], r["tokens_out"]) for r in body["tokens_by_model"]}
    assert tokens == {
        "gpt-4o-mini": (1000 + 100 + 4000, 500 + 50 + 1000),
        "claude-sonnet-4-20250514": (2000, 1000),
        "llama-3.3-8b": (300, 100),
    }
    # errors: failed bash + failed claude call + error event = 3; requests: 3 messages +
    # 5 llm_calls + 2 tool_uses = 10.
    assert body["errors"] == {"errors": 3, "requests": 10, "error_rate": 0.3}
    agents = {a["agent"]: a["requests"] for a in body["top_agents"]}
    assert agents == {"sisyphus": 8, "oracle": 2}
    assert body["cost"] == pytest.approx(TOTAL_COST)


def test_stack_dashboard(loaded: tuple[Any, Any]) -> None:
    _, client = loaded
    body = get(client, "/api/v1/stacks/alpha/dashboard")
    # buckets where the stack had events, zeros included
    assert [(s["time"][:16], s["sessions"]) for s in body["sessions"]] == [
        ("2026-01-10T10:00", 1),
        ("2026-01-10T11:00", 0),
    ]
    assert body["tools"] == [
        {"tool": "bash", "calls": 2, "failures": 1, "error_rate": 0.5, "mean_duration_ms": 200.0}
    ]
    # alpha llm_call durations 1000, 3000, 5000, 7000 ms: p50 = 4000; p95 at rank
    # 0.95*3 = 2.85 → 5000 + 0.85*2000 = 6700; p99 at 2.97 → 6940.
    latency = body["latency"]
    assert latency["count"] == 4 and latency["mean_ms"] == 4000
    assert latency["p50_ms"] == pytest.approx(4000)
    assert latency["p95_ms"] == pytest.approx(6700)
    assert latency["p99_ms"] == pytest.approx(6940)
    assert body["errors"] == {"errors": 3, "requests": 8, "error_rate": 0.375}
    assert [e["event_id"] for e in body["error_log"]] == ["ev08", "ev07", "ev05"]
    assert body["active_sessions"] == 0  # s1 ended
    hours = {t["time"][:13]: (t["tokens_in"], t["cost_usd"]) for t in body["tokens"]}
    assert hours["2026-01-10T10"] == (
        1000 + 2000 + 100,
        pytest.approx(COST_MINI_1 + COST_CLAUDE + COST_CLIENT),
    )
    assert hours["2026-01-10T11"] == (300, None)  # only the unpriced llama call


def test_latency_all_and_by_model(loaded: tuple[Any, Any]) -> None:
    _, client = loaded
    body = get(client, "/api/v1/latency", by_model="true")
    # durations 1000, 2000, 3000, 5000, 7000: p50 3000, p95 rank 3.8 → 6600, p99 → 6920.
    overall = body["overall"]
    assert (overall["count"], overall["p50_ms"]) == (5, 3000)
    assert overall["p95_ms"] == pytest.approx(6600) and overall["p99_ms"] == pytest.approx(6920)
    mini = next(r for r in body["by_model"] if r["model"] == "gpt-4o-mini")
    # 1000, 5000, 2000 → p50 2000
    assert (mini["count"], mini["p50_ms"], mini["max_ms"]) == (3, 2000, 5000)


def test_five_minute_steps_read_raw_events(loaded: tuple[Any, Any]) -> None:
    _, client = loaded
    body = get(
        client,
        "/api/v1/usage",
        measures="llm_calls,tokens_in",
        step=300,
        stack="alpha",
        group_by="model",
    )
    rows = [
        (r["time"][11:16], r["model"], r["llm_calls"], r["tokens_in"])
        for r in body["series"]
        if r["llm_calls"]
    ]
    assert rows == [
        ("10:00", "claude-sonnet-4-20250514", 1, 2000),
        ("10:00", "gpt-4o-mini", 1, 1000),
        ("10:30", "gpt-4o-mini", 1, 100),
        ("11:00", "llama-3.3-8b", 1, 300),
    ]
    # a user filter also reads raw events; ids are stored pseudonymized
    hub = loaded[0]
    alice = hub.redactor.pseudonymize_user("alice")
    body = get(client, "/api/v1/usage", measures="tokens_out", user=alice)
    assert sum(r["tokens_out"] for r in body["series"]) == 500 + 1000 + 50 + 100


def test_sessions_and_timeline(loaded: tuple[Any, Any]) -> None:
    hub, client = loaded
    body = get(client, "/api/v1/sessions")
    assert [s["session_id"] for s in body["sessions"]] == ["s2", "s1"]
    s1 = body["sessions"][1]
    assert s1["user_id"] == hub.redactor.pseudonymize_user("alice")
    assert (s1["events"], s1["messages"], s1["tool_calls"], s1["llm_calls"]) == (11, 2, 2, 4)
    assert (s1["tokens_in"], s1["tokens_out"], s1["errors"]) == (3400, 1650, 3)
    assert s1["cost_usd"] == pytest.approx(ALPHA_COST)
    assert s1["models"] == ["claude-sonnet-4-20250514", "gpt-4o-mini", "llama-3.3-8b"]
    assert s1["start"] == "2026-01-10T10:00:00.000000Z"
    assert s1["end"] == "2026-01-10T11:05:00.000000Z" and s1["duration_s"] == 3900
    assert body["sessions"][0]["end"] is None
    timeline = client.get("/api/v1/sessions/s1").json()["stacks"][0]["events"]
    assert [e["event_id"] for e in timeline] == [f"ev{i:02d}" for i in range(1, 12)]
    assert "content" not in timeline[1] and timeline[1]["content_hash"]
    assert client.get("/api/v1/sessions/nope").status_code == 404


def test_users_and_costs_with_projections(loaded: tuple[Any, Any]) -> None:
    hub, client = loaded
    users = {u["user_id"]: u for u in get(client, "/api/v1/users")["users"]}
    alice = users[hub.redactor.pseudonymize_user("alice")]
    assert (alice["calls"], alice["tokens_in"], alice["sessions"]) == (4, 3400, 1)
    assert alice["cost_usd"] == pytest.approx(ALPHA_COST)
    assert alice["unpriced"] == 1

    body = get(client, "/api/v1/costs", by="model")
    by_model = {r["model"]: r for r in body["rows"]}
    assert by_model["gpt-4o-mini"]["cost_usd"] == pytest.approx(
        COST_MINI_1 + COST_CLIENT + COST_MINI_BETA
    )
    assert by_model["claude-sonnet-4-20250514"]["cost_usd"] == pytest.approx(COST_CLAUDE)
    assert (by_model["llama-3.3-8b"]["cost_usd"], by_model["llama-3.3-8b"]["unpriced"]) == (None, 1)
    assert body["total"]["cost_usd"] == pytest.approx(TOTAL_COST)
    # clock 2026-01-10T11:45Z: 11.75/24 of the day, 9 + 11.75/24 days of a 31-day month.
    projection = body["projection"]
    assert projection["today_usd"] == pytest.approx(TOTAL_COST)
    assert projection["daily_projection_usd"] == pytest.approx(TOTAL_COST * 24 / 11.75)
    assert projection["month_end_projection_usd"] == pytest.approx(
        TOTAL_COST / (9 + 11.75 / 24) * 31
    )
    by_stack = {
        r["stack_name"]: r["cost_usd"]
        for r in get(client, "/api/v1/costs", by="stack_name")["rows"]
    }
    assert by_stack == {"alpha": pytest.approx(ALPHA_COST), "beta": pytest.approx(COST_MINI_BETA)}
    days = get(client, "/api/v1/costs", by="day")["rows"]
    assert [(d["day"], d["calls"]) for d in days] == [("2026-01-10", 5)]
    agents = {r["agent"]: r["cost_usd"] for r in get(client, "/api/v1/costs", by="agent")["rows"]}
    assert agents == {
        "sisyphus": pytest.approx(ALPHA_COST),
        "oracle": pytest.approx(COST_MINI_BETA),
    }
    unpriced = get(client, "/api/v1/costs/unpriced")["models"]
    assert unpriced == [
        {"provider": "meta", "model": "llama-3.3-8b", "events": 1, "last_day": "2026-01-10"}
    ]


def test_budgets(loaded: tuple[Any, Any]) -> None:
    _, client = loaded
    assert client.put("/api/v1/budgets/alpha", json={"monthly_usd": 1.0}).status_code == 200
    put = client.put("/api/v1/budgets/beta", json={"monthly_tokens": 4000})
    assert put.status_code == 200
    budgets = {b["stack_name"]: b for b in client.get("/api/v1/budgets").json()["budgets"]}
    alpha = budgets["alpha"]
    assert alpha["used_usd"] == pytest.approx(ALPHA_COST) and alpha["status"] == "ok"
    assert alpha["projected_usd"] == pytest.approx(ALPHA_COST / (9 + 11.75 / 24) * 31)
    beta = budgets["beta"]  # 4000 in + 1000 out = 5000 of 4000
    assert (beta["used_tokens"], beta["tokens_utilization"], beta["status"]) == (
        5000,
        1.25,
        "exceeded",
    )
    assert client.put("/api/v1/budgets/alpha", json={"monthly_usd": -1}).status_code == 400
    _, key = loaded[0].keyring.create("read")
    assert (
        client.put(
            "/api/v1/budgets/alpha", json={"monthly_usd": 5}, headers={"X-API-Key": key}
        ).status_code
        == 403
    )
    assert client.delete("/api/v1/budgets/alpha").status_code == 200
    assert [b["stack_name"] for b in client.get("/api/v1/budgets").json()["budgets"]] == ["beta"]


def test_billing_export_csv_and_parquet(loaded: tuple[Any, Any]) -> None:
    _, client = loaded
    response = client.get("/api/v1/billing/export", params={"month": "2026-01"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # alpha: gpt-4o-mini (2 calls), claude, llama; beta: gpt-4o-mini → 4 records
    assert len(rows) == 4
    assert sum(float(r["cost_usd"] or 0) for r in rows) == pytest.approx(TOTAL_COST)
    assert {r["model"]: int(r["calls"]) for r in rows if r["stack_name"] == "alpha"} == {
        "gpt-4o-mini": 2,
        "claude-sonnet-4-20250514": 1,
        "llama-3.3-8b": 1,
    }
    import pyarrow.parquet as pq

    parquet = client.get("/api/v1/billing/export", params={"month": "2026-01", "format": "parquet"})
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == 4 and sum(table.column("tokens_in").to_pylist()) == 7400
    empty = client.get("/api/v1/billing/export", params={"month": "2025-12"})
    assert empty.text.count("\n") == 1  # header only
    assert client.get("/api/v1/billing/export", params={"month": "2026-13"}).status_code == 400


def test_user_export_by_raw_or_pseudonymous_id(loaded: tuple[Any, Any]) -> None:
    hub, client = loaded
    body = client.get("/api/v1/users/alice/export").json()
    assert body["user_id"] == hub.redactor.pseudonymize_user("alice")
    assert len(body["events"]) == 11 and [s["session_id"] for s in body["sessions"]] == ["s1"]
    assert len(body["billing"]) == 3
    again = client.get(f"/api/v1/users/{body['user_id']}/export").json()
    assert len(again["events"]) == 11


def test_stack_bound_read_key_sees_only_its_stack(loaded: tuple[Any, Any]) -> None:
    hub, client = loaded
    _, key = hub.keyring.create("read", stack="beta")
    headers = {"X-API-Key": key}
    body = client.get("/api/v1/costs", params={**WINDOW, "by": "stack_name"}, headers=headers)
    assert [r["stack_name"] for r in body.json()["rows"]] == ["beta"]
    sessions = client.get("/api/v1/sessions", params=WINDOW, headers=headers).json()["sessions"]
    assert [s["session_id"] for s in sessions] == ["s2"]
    assert client.get("/api/v1/sessions/s1", headers=headers).status_code == 404
    assert client.get("/api/v1/stacks/alpha/dashboard", headers=headers).status_code == 403
    assert (
        client.get("/api/v1/overview", params={"stack": "alpha"}, headers=headers).status_code
        == 403
    )
    assert client.get("/api/v1/users/alice/export", headers=headers).json()["events"] == []


def test_retry_is_not_counted_twice(loaded: tuple[Any, Any]) -> None:
    hub, client = loaded
    assert client.post("/v1/events", json=events()).json()["accepted"] == 15
    hub.flush()
    assert get(client, "/api/v1/overview")["errors"]["requests"] == 10
    assert get(client, "/api/v1/costs", by="day")["total"]["cost_usd"] == pytest.approx(TOTAL_COST)


def test_backfill_prices_a_newly_overridden_model(loaded: tuple[Any, Any]) -> None:
    hub, client = loaded
    hub.pricer.overrides["meta/llama-3.3-8b"] = PriceOverride(
        input_per_mtok=1.0, output_per_mtok=2.0
    )
    client.app.state.pricer = hub.pricer
    response = client.post("/api/v1/costs/backfill", params={"since": "2026-01-01"})
    # candidates: the three hub-priced calls and the unpriced llama call (the
    # client-sent cost is never touched); only llama's cost changes.
    assert response.json() == {"examined": 4, "repriced": 1, "unpriced": 0}
    llama = (300 * 1.0 + 100 * 2.0) / 1e6
    by_model = {r["model"]: r for r in get(client, "/api/v1/costs", by="model")["rows"]}
    assert by_model["llama-3.3-8b"]["cost_usd"] == pytest.approx(llama)
    assert by_model["llama-3.3-8b"]["unpriced"] == 0
    assert get(client, "/api/v1/costs/unpriced")["models"] == []
    assert get(client, "/api/v1/sessions")["sessions"][1]["cost_usd"] == pytest.approx(
        ALPHA_COST + llama
    )
    assert get(client, "/api/v1/overview")["tokens_by_model"][-1]["cost_usd"] == pytest.approx(
        llama
    )
    assert (
        client.post("/api/v1/costs/backfill", params={"since": "2026-01-01"}).json()["repriced"]
        == 0
    )


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"step": 10},
        {"since": "2026-01-10T12:00:00Z", "until": "2026-01-10T10:00:00Z"},
        {"step": 60, "since": "3650d"},
    ],
)
def test_bad_parameters_are_400(loaded: tuple[Any, Any], params: dict[str, Any]) -> None:
    assert loaded[1].get("/api/v1/overview", params=params).status_code == 400


def test_openapi_lists_the_analytics_routes(loaded: tuple[Any, Any]) -> None:
    paths = loaded[1].get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/overview",
        "/api/v1/stacks/{stack}/dashboard",
        "/api/v1/costs",
        "/api/v1/sessions/{session_id}",
        "/api/v1/billing/export",
        "/api/v1/users/{user_id}/export",
        "/api/v1/budgets/{stack}",
    ):
        assert path in paths


def test_pricer_used_by_pipeline_marks_source(loaded: tuple[Any, Any]) -> None:
    hub, _ = loaded
    [row] = hub.store.fetch(
        "SELECT cost_usd, json_extract_string(attributes, '$.cost_source') FROM events "
        "WHERE event_id = 'ev03'"
    ).rows
    assert row == (pytest.approx(COST_MINI_1), "genai-prices")
    assert hub.pricer.unpriced == {("meta", "llama-3.3-8b"): 1}
    assert isinstance(hub.pricer, Pricer)
