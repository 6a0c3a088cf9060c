"""Langfuse usage and cost objects → tokens_* and cost_usd (the contract's meaning)."""

from __future__ import annotations

import pytest

from stacklens.ingest.langfuse.usage import cost_fields, token_fields


def test_legacy_openai_shape() -> None:
    usage = {"promptTokens": 120, "completionTokens": 30, "totalTokens": 150}
    assert token_fields(usage) == {"tokens_in": 120, "tokens_out": 30}


def test_usage_details_parts_are_disjoint_so_input_sums_them() -> None:
    # Anthropic through Langfuse: input excludes the cache; tokens_in is all input.
    details = {
        "input": 100,
        "cache_read_input_tokens": 900,
        "cache_creation_input_tokens": 50,
        "output": 40,
        "output_reasoning_tokens": 10,
        "total": 1100,
    }
    assert token_fields(details) == {
        "tokens_in": 1050,
        "tokens_out": 50,
        "tokens_cache_read": 900,
        "tokens_cache_write": 50,
        "tokens_reasoning": 10,
    }


def test_openai_cached_detail_counts_as_a_cache_read() -> None:
    details = {"input": 200, "input_cached_tokens": 800, "output": 5}
    fields = token_fields(details)
    assert (fields["tokens_in"], fields["tokens_cache_read"]) == (1000, 800)


def test_first_object_with_counts_wins_and_junk_is_ignored() -> None:
    assert token_fields(None, {"unit": "TOKENS", "input": "12", "output": 3.0}) == {
        "tokens_in": 12,
        "tokens_out": 3,
    }
    assert token_fields({"total": 99}) == {}  # a total alone is not split by guessing
    assert token_fields({"input": -5, "output": "n/a", 7: 1}) == {}
    assert token_fields("not a mapping", [1, 2]) == {}


def test_costs() -> None:
    assert cost_fields({"input": 0.25, "output": 0.5}) == {"cost_usd": 0.75}
    assert cost_fields({"input": 1.0, "total": 2.5}) == {"cost_usd": 2.5}
    assert cost_fields(None, {"totalCost": 0.1}) == {"cost_usd": 0.1}
    assert cost_fields(None, {"inputCost": 0.1, "outputCost": 0.2})["cost_usd"] == pytest.approx(
        0.3
    )
    assert cost_fields({"total": "nan"}) == {}
    assert cost_fields(None, None) == {}
