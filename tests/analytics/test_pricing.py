"""Pricer: genai-prices offline, overrides first, client cost wins, unknowns counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stacklens.analytics.pricing import PriceOverride, Pricer, load_price_overrides

JAN = 1_767_225_600 * 10**9


def test_known_models_priced_by_hand_computed_rates() -> None:
    pricer = Pricer()
    # gpt-4o-mini: 900 uncached x 0.15 + 500 x 0.60 + 100 cached x 0.075 per MTok
    assert pricer.price(
        "openai", "gpt-4o-mini", tokens_in=1000, tokens_out=500, cache_read=100, at_ns=JAN
    ) == pytest.approx(442.5e-6)
    # Claude Sonnet 4: 800 x 3 + 500 x 15 + 200 x 0.30
    assert pricer.price(
        "anthropic",
        "claude-sonnet-4-20250514",
        tokens_in=1000,
        tokens_out=500,
        cache_read=200,
        at_ns=JAN,
    ) == pytest.approx(9960e-6)


def test_cache_counts_are_parts_of_tokens_in_never_added() -> None:
    # Issue 12 item 3: the hub no longer guesses "Anthropic style" from cache > tokens_in
    # (provider raw usage is converted by its shape: test_usage_semantics). Counts that
    # break the contract price the uncached part as zero, never negative.
    pricer = Pricer()
    cost = pricer.price(
        "anthropic",
        "claude-sonnet-4-20250514",
        tokens_in=100,
        tokens_out=0,
        cache_read=5000,
        at_ns=JAN,
    )
    assert cost == pytest.approx(5000 * 0.3 / 1e6)


def test_unknown_provider_falls_back_to_model_and_unknown_model_is_none() -> None:
    pricer = Pricer()
    assert pricer.price("somegateway", "gpt-4o-mini", tokens_in=1_000_000) == pytest.approx(0.15)
    assert pricer.price("meta", "llama-3.3-8b", tokens_in=10) is None
    assert pricer.price(None, "no-such-model", tokens_in=10) is None


def test_override_wins_and_cache_defaults_to_input_price() -> None:
    pricer = Pricer(
        {
            "openai/gpt-4o-mini": PriceOverride(input_per_mtok=1, output_per_mtok=2),
            "llama-3.3-8b": PriceOverride(
                input_per_mtok=0.5, output_per_mtok=0.5, cache_read_per_mtok=0.1
            ),
        }
    )
    assert pricer.price(
        "openai", "gpt-4o-mini", tokens_in=1000, tokens_out=1000, cache_read=500
    ) == pytest.approx((500 * 1 + 1000 * 2 + 500 * 1) / 1e6)
    assert pricer.price("meta", "llama-3.3-8b", tokens_in=1000, cache_read=1000) == (
        pytest.approx(1000 * 0.1 / 1e6)
    )
    assert pricer.source("any", "LLAMA-3.3-8B") == "override"


def event(**data: Any) -> dict[str, Any]:
    return {"timestamp": JAN, "event_type": "llm_call", "data": data}


def test_apply_sets_cost_and_source_client_cost_wins_unknown_counted() -> None:
    pricer = Pricer()
    priced = event(provider="openai", model="gpt-4o-mini", tokens_in=1_000_000)
    pricer.apply(priced)
    assert priced["data"]["cost_usd"] == pytest.approx(0.15)
    assert priced["data"]["cost_source"] == "genai-prices"
    client = event(provider="openai", model="gpt-4o-mini", tokens_in=10, cost_usd=7.0)
    pricer.apply(client)
    assert client["data"] == {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "tokens_in": 10,
        "cost_usd": 7.0,
    }
    unknown = event(provider="meta", model="llama-3.3-8b", tokens_out=5)
    pricer.apply(unknown)
    pricer.apply(event(provider="meta", model="llama-3.3-8b", tokens_out=7))
    assert "cost_usd" not in unknown["data"]
    assert pricer.unpriced == {("meta", "llama-3.3-8b"): 2}
    no_tokens = event(model="gpt-4o-mini")
    pricer.apply(no_tokens)
    assert "cost_usd" not in no_tokens["data"]


def test_load_overrides(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text('prices:\n  "OpenAI/gpt-4o": {input_per_mtok: 2.5, output_per_mtok: 10}\n')
    assert load_price_overrides(path) == {
        "openai/gpt-4o": PriceOverride(input_per_mtok=2.5, output_per_mtok=10)
    }
    path.write_text("prices:\n  x: {input_per_mtok: 1}\n")
    with pytest.raises(ValueError, match="invalid price override"):
        load_price_overrides(path)
    assert load_price_overrides(None) == {}
