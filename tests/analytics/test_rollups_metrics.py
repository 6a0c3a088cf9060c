"""Rollups maintained in the loader's transaction, and the /metrics collector over them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stacklens.analytics.collector import StackMetricsCollector
from stacklens.schema import EventRow
from stacklens.testing.analytics import install_rollups, load_rows
from stacklens.testing.backends import clear_stream
from stacklens.testing.dataset import COST_CLAUDE, COST_CLIENT, COST_MINI_1, COST_MINI_BETA, NOW_NS

T0 = 1_768_039_200 * 10**9  # 2026-01-10T10:00Z


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def test_metrics_from_the_hand_checked_dataset(loaded: tuple[Any, Any]) -> None:
    text = loaded[1].get("/metrics").text
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert value(found, "opencode_sessions_total", stack_name="alpha") == 1
    assert (
        value(
            found,
            "opencode_tokens_total",
            stack_name="alpha",
            model="gpt-4o-mini",
            direction="input",
        )
        == 1100
    )
    assert (
        value(
            found,
            "opencode_tokens_total",
            stack_name="alpha",
            model="gpt-4o-mini",
            direction="cache_read",
        )
        == 200
    )
    assert (
        value(
            found,
            "opencode_messages_total",
            stack_name="alpha",
            role="user",
            model="gpt-4o-mini",
            agent="sisyphus",
        )
        == 1
    )
    assert (
        value(
            found,
            "opencode_tool_invocations_total",
            stack_name="alpha",
            tool="bash",
            success="false",
        )
        == 1
    )
    assert value(found, "opencode_errors_total", stack_name="alpha") == 3
    assert value(
        found, "stacklens_cost_usd_total", stack_name="alpha", model="gpt-4o-mini"
    ) == pytest.approx(COST_MINI_1 + COST_CLIENT)
    assert value(
        found, "stacklens_cost_usd_total", stack_name="alpha", model="claude-sonnet-4-20250514"
    ) == pytest.approx(COST_CLAUDE)
    assert value(
        found, "stacklens_cost_usd_total", stack_name="beta", model="gpt-4o-mini"
    ) == pytest.approx(COST_MINI_BETA)
    assert (
        value(
            found,
            "stacklens_unpriced_events_total",
            stack_name="alpha",
            model="llama-3.3-8b",
            provider="meta",
        )
        == 1
    )
    # alpha durations 1, 3, 5, 7 s: le=2 → 1, le=5 → 3, le=10 → 4
    hist = "opencode_response_duration_seconds_bucket"
    gpt = {"stack_name": "alpha", "model": "gpt-4o-mini"}
    assert value(found, hist, le="1.0", **gpt) == 1 and value(found, hist, le="5.0", **gpt) == 2
    assert value(found, "opencode_response_duration_seconds_sum", **gpt) == 6.0
    assert value(found, "opencode_active_sessions", stack_name="beta") == 1
    assert value(found, "opencode_active_sessions", stack_name="alpha") == 0
    assert value(found, "stacklens_stack_up", stack_name="beta") == 1
    assert value(found, "stacklens_stack_up", stack_name="alpha") == 0
    assert value(found, "stacklens_stack_last_seen_timestamp_seconds", stack_name="beta") == (
        NOW_NS / 1e9 - 300
    )
    assert not any("user" in k or "session_id" in k for _, labels in found for k, _ in labels)


def test_promtool_check_metrics_is_clean(loaded: tuple[Any, Any]) -> None:
    text = loaded[1].get("/metrics").text
    result = subprocess.run(
        ["promtool", "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def row(n: int, stack: str, model: str, **fields: Any) -> EventRow:
    return EventRow(
        event_id=f"r{n}",
        ts=T0 + n * 10**9,
        stack_name=stack,
        event_type="llm_call",
        model=model,
        tokens_in=10,
        **fields,
    )


def test_label_values_are_capped_per_stack_and_counters_never_decrease(tmp_path: Path) -> None:
    store = install_rollups(tmp_path / "e.duckdb", label_cap=2)
    registry = CollectorRegistry()
    registry.register(StackMetricsCollector(store, lambda: T0, cache_s=0))
    load_rows(
        store,
        tmp_path,
        [row(1, "a", "m1"), row(2, "a", "m2"), row(3, "a", "m3"), row(4, "b", "m3")],
        1,
    )
    first = samples(registry)
    tokens = "opencode_tokens_total"
    assert value(first, tokens, stack_name="a", model="m1", direction="input") == 10
    assert value(first, tokens, stack_name="a", model="other", direction="input") == 10
    assert value(first, tokens, stack_name="b", model="m3", direction="input") == 10
    # m3 stays "other" for stack a forever; m1 keeps its label: nothing decreases
    load_rows(store, tmp_path, [row(5, "a", "m3"), row(6, "a", "m4"), row(7, "a", "m1")], 2)
    second = samples(registry)
    assert value(second, tokens, stack_name="a", model="other", direction="input") == 30
    assert value(second, tokens, stack_name="a", model="m1", direction="input") == 20
    for key, before in first.items():
        if key[0].endswith(("_total", "_bucket", "_count", "_sum")):
            assert second[key] >= before, key
    # retention pruning raw events does not touch the counters
    clear_stream(store)
    assert samples(registry) == second
    store.close()


def test_session_summary_accumulates_across_batches(tmp_path: Path) -> None:
    store = install_rollups(tmp_path / "e.duckdb")
    base = {"stack_name": "a", "session_id": "s"}
    load_rows(
        store,
        tmp_path,
        [
            EventRow(event_id="1", ts=T0, event_type="session_start", **base),
            EventRow(
                event_id="2",
                ts=T0 + 10**9,
                event_type="llm_call",
                model="x",
                tokens_in=5,
                cost_usd=0.25,
                user_id="u_1",
                **base,
            ),
        ],
        1,
    )
    load_rows(
        store,
        tmp_path,
        [
            EventRow(
                event_id="3",
                ts=T0 + 5 * 10**9,
                event_type="llm_call",
                model="y",
                tokens_in=7,
                cost_usd=0.5,
                success=False,
                **base,
            ),
            EventRow(event_id="4", ts=T0 + 9 * 10**9, event_type="session_end", **base),
        ],
        2,
    )
    got = store.fetch(
        "SELECT user_id, epoch_ns(start_ts), epoch_ns(end_ts), events, llm_calls, tokens_in, "
        "cost_usd, errors, models FROM session_summaries"
    ).rows
    assert got == [("u_1", T0, T0 + 9 * 10**9, 4, 2, 12, 0.75, 1, ["x", "y"])]
    store.close()
