"""The signal catalog's SQL over a real DuckDB store: each signal, fan-out, filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stacklens.alerting.signals import Condition, Filter, SignalError, build_query
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing.alerting import add_points, event, load, point

S = 10**9
NOW = 1_767_225_600 * S


def run(store: DuckDBStore, condition: Condition) -> dict[tuple[Any, ...], float]:
    sql, params = build_query(condition, NOW)
    rows = store.fetch(sql, params).rows
    return {tuple(r[:-1]): round(float(r[-1]), 6) for r in rows}


def cond(
    signal: str,
    threshold: float = -1,
    op: str = ">",
    window_s: int = 300,
    by: tuple[str, ...] = ("stack_name",),
    **params: Any,
) -> Condition:
    where = params.pop("where", ())
    return Condition(signal, window_s * S, op, threshold, by, where, params)


@pytest.fixture
def loaded(store: DuckDBStore, tmp_path: Path) -> DuckDBStore:
    rows = []
    for i in range(10):  # alpha: 10 llm calls in the last 5 minutes, 2 failed, 1 error event
        rows.append(
            event(
                NOW - (i + 1) * 20 * S,
                "llm_call",
                "alpha",
                session_id=f"s{i % 3}",
                user_id=f"u{i % 2}",
                model="gpt-4o",
                duration_ms=1000.0 * (i + 1),
                tokens_in=100,
                tokens_out=10,
                tokens_cache_read=300,
                cost_usd=0.5,
                success=i >= 2,
                attributes='{"team": "ml"}',
            )
        )
    rows.append(event(NOW - 30 * S, "error", "alpha", message="boom"))
    for i in range(4):  # tool calls: 1 of 4 failed
        rows.append(event(NOW - 40 * S, "tool_use", "alpha", tool="bash", success=i != 0))
    rows.append(
        event(
            NOW - 50 * S,
            "llm_call",
            "beta",
            duration_ms=500.0,
            tokens_in=1000,
            cost_usd=2.0,
            user_id="u9",
        )
    )
    rows.append(event(NOW - 3600 * S, "heartbeat", "gamma"))  # old: outside 5m windows
    rows.append(event(NOW + 10 * S, "llm_call", "alpha", cost_usd=100.0))  # future: ignored
    load(store, tmp_path, rows)
    return store


def test_counts_rates_and_ratios(loaded: DuckDBStore) -> None:
    assert run(loaded, cond("event_count")) == {("alpha",): 15, ("beta",): 1}
    assert run(loaded, cond("error_count")) == {
        ("alpha",): 4,
        ("beta",): 0,
    }  # 2 llm + 1 tool + 1 error
    assert run(loaded, cond("error_rate")) == {("alpha",): round(4 / 300, 6), ("beta",): 0}
    assert run(loaded, cond("error_ratio")) == {("alpha",): round(4 / 14, 6), ("beta",): 0}
    assert run(loaded, cond("tool_error_ratio")) == {("alpha",): 0.25}
    assert run(loaded, cond("active_sessions")) == {("alpha",): 3}


def test_tokens_cost_budget_cache(loaded: DuckDBStore) -> None:
    assert run(loaded, cond("tokens", direction="input")) == {("alpha",): 1000, ("beta",): 1000}
    assert run(loaded, cond("tokens")) == {("alpha",): 4100, ("beta",): 1000}
    assert run(loaded, cond("cost")) == {("alpha",): 5.0, ("beta",): 2.0}
    assert run(loaded, cond("budget_utilization", budget_usd=10)) == {
        ("alpha",): 0.5,
        ("beta",): 0.2,
    }
    assert run(loaded, cond("cache_hit_ratio")) == {("alpha",): 0.75, ("beta",): 0.0}


def test_latency_quantile_in_seconds(loaded: DuckDBStore) -> None:
    result = run(loaded, cond("latency_quantile", quantile=0.5))
    assert result == {("alpha",): 5.5, ("beta",): 0.5}


def test_last_seen_age(loaded: DuckDBStore) -> None:
    result = run(loaded, cond("last_seen_age", window_s=7 * 86400))
    assert result == {("alpha",): 20.0, ("beta",): 50.0, ("gamma",): 3600.0}


def test_comparison_runs_in_the_query(loaded: DuckDBStore) -> None:
    assert run(loaded, cond("cost", 3.0)) == {("alpha",): 5.0}
    assert run(loaded, cond("cost", 3.0, "<=")) == {("beta",): 2.0}
    assert run(loaded, cond("cost", 2.0, "==")) == {("beta",): 2.0}


def test_per_user_fan_out_and_attribute_dimensions(loaded: DuckDBStore) -> None:
    per_user = run(loaded, cond("cost", 1.0, by=("stack_name", "user_id")))
    assert per_user == {("alpha", "u0"): 2.5, ("alpha", "u1"): 2.5, ("beta", "u9"): 2.0}
    by_team = run(loaded, cond("cost", by=("attributes.team",)))
    assert by_team == {("ml",): 5.0, (None,): 2.0}
    assert run(loaded, cond("cost", by=())) == {(): 7.0}


def test_where_filters_are_parameters(loaded: DuckDBStore) -> None:
    evil = "x' OR 1=1 --"
    assert run(loaded, cond("cost", where=(Filter("model", "=", evil),))) == {}
    assert run(loaded, cond("cost", where=(Filter("model", "=", "gpt-4o"),))) == {("alpha",): 5.0}
    assert run(loaded, cond("cost", where=(Filter("model", "!=", "gpt-4o"),))) == {
        ("alpha",): 0.0,
        ("beta",): 2.0,
    }
    assert run(loaded, cond("cost", where=(Filter("user_id", "in", ("u0", "u9")),))) == {
        ("alpha",): 2.5,
        ("beta",): 2.0,
    }
    assert run(loaded, cond("cost", where=(Filter("stack_name", "=~", "al.*"),))) == {
        ("alpha",): 5.0
    }
    assert run(loaded, cond("cost", where=(Filter("stack_name", "!~", "al"),))) == {
        ("alpha",): 5.0,
        ("beta",): 2.0,
    }
    sql, params = build_query(cond("cost", where=(Filter("model", "=", evil),)), NOW)
    assert evil not in sql and evil in params.values()


def test_unknown_dimensions_are_refused() -> None:
    with pytest.raises(SignalError, match="unknown dimension"):
        build_query(cond("cost", by=("stack_name; DROP TABLE events",)), NOW)
    with pytest.raises(SignalError):
        build_query(cond("cost", by=("attributes.a'b",)), NOW)


def test_metric_value_over_metric_points(store: DuckDBStore, tmp_path: Path) -> None:
    points = [
        point(NOW - (100 - i * 50) * S, "gpu_utilization_percent", value, gpu_id=gpu)
        for gpu, values in (("0", [50, 95]), ("1", [97, 60]))
        for i, value in enumerate(values)
    ]
    points.append(point(NOW - 10 * S, "gpu_memory_used_bytes", 9.5, gpu_id="0"))
    points.append(point(NOW - 10 * S, "gpu_memory_total_bytes", 10, gpu_id="0"))
    add_points(store, tmp_path, points)
    by = ("stack_name", "attributes.gpu_id")
    last = run(store, cond("metric_value", 90, by=by, metric="gpu_utilization_percent"))
    assert last == {("alpha", "0"): 95.0}
    peak = run(
        store, cond("metric_value", 90, by=by, metric="gpu_utilization_percent", aggregate="max")
    )
    assert peak == {("alpha", "0"): 95.0, ("alpha", "1"): 97.0}
    ratio = run(
        store,
        cond(
            "metric_value",
            0.9,
            by=by,
            metric="gpu_memory_used_bytes",
            divide_by="gpu_memory_total_bytes",
        ),
    )
    assert ratio == {("alpha", "0"): 0.95}
    filtered = run(
        store,
        cond(
            "metric_value",
            0,
            by=by,
            metric="gpu_utilization_percent",
            where=(Filter("attributes.gpu_id", "=", "1"),),
        ),
    )
    assert filtered == {("alpha", "1"): 60.0}
