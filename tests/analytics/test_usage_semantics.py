"""Token contract: provider raw usage → tokens_* by the provider's own semantics, then
priced from genai-prices' table (figures computed by hand from that table)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacklens.analytics.pricing import Pricer
from stacklens.ingest.pipeline import IngestPipeline
from stacklens.privacy import Redactor

JAN = 1_767_225_600 * 10**9
SONNET = "claude-sonnet-4-20250514"  # genai-prices: $3 in, $0.30 cache read, $3.75 write, $15 out
MINI = "gpt-4o-mini"  # genai-prices: $0.15 in, $0.075 cached, $0.60 out


def priced(**data: Any) -> dict[str, Any]:
    event = {"timestamp": JAN, "event_type": "llm_call", "data": data}
    Pricer().apply(event)
    return event["data"]


def test_anthropic_raw_usage_excludes_cache_so_it_is_added() -> None:
    # The figure: 5,000 uncached + 1,000 cache-read tokens = 5000x3 + 1000x0.30.
    data = priced(
        provider="anthropic",
        model=SONNET,
        usage={"input_tokens": 5000, "cache_read_input_tokens": 1000, "output_tokens": 0},
    )
    assert data["cost_usd"] == pytest.approx(0.0153)
    assert (data["tokens_in"], data["tokens_cache_read"]) == (6000, 1000)


def test_anthropic_raw_usage_with_cache_write_and_output() -> None:
    # 5000x3 + 1000x0.30 + 400x3.75 + 200x15 = 15000 + 300 + 1500 + 3000 per MTok.
    data = priced(
        provider="anthropic",
        model=SONNET,
        usage={
            "input_tokens": 5000,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 400,
            "output_tokens": 200,
        },
    )
    assert data["cost_usd"] == pytest.approx(19_800e-6)
    assert (data["tokens_in"], data["tokens_cache_write"], data["tokens_out"]) == (6400, 400, 200)


def test_openai_chat_raw_usage_includes_cached_and_reasoning() -> None:
    # prompt 6000 of which 1000 cached; completion 500 of which 200 reasoning:
    # 5000x0.15 + 1000x0.075 + 500x0.60 = 750 + 75 + 300 per MTok (reasoning not added).
    data = priced(
        provider="openai",
        model=MINI,
        usage={
            "prompt_tokens": 6000,
            "completion_tokens": 500,
            "prompt_tokens_details": {"cached_tokens": 1000},
            "completion_tokens_details": {"reasoning_tokens": 200},
        },
    )
    assert data["cost_usd"] == pytest.approx(1125e-6)
    assert (data["tokens_in"], data["tokens_cache_read"]) == (6000, 1000)
    assert (data["tokens_out"], data["tokens_reasoning"]) == (500, 200)


def test_openai_responses_raw_usage() -> None:
    data = priced(
        provider="openai",
        model=MINI,
        usage={
            "input_tokens": 6000,
            "output_tokens": 500,
            "input_tokens_details": {"cached_tokens": 1000},
            "output_tokens_details": {"reasoning_tokens": 200},
        },
    )
    assert data["cost_usd"] == pytest.approx(1125e-6)
    assert data["tokens_reasoning"] == 200


def test_contract_fields_are_totals_whatever_the_numbers() -> None:
    # tokens_in is the whole prompt: 5000 with 1000 cache-read is 4000 uncached, on both
    # providers; the hub no longer reinterprets the counts from their sizes.
    sonnet = priced(provider="anthropic", model=SONNET, tokens_in=5000, tokens_cache_read=1000)
    assert sonnet["cost_usd"] == pytest.approx((4000 * 3 + 1000 * 0.3) / 1e6)
    mini = priced(provider="openai", model=MINI, tokens_in=6000, tokens_cache_read=1000)
    assert mini["cost_usd"] == pytest.approx((5000 * 0.15 + 1000 * 0.075) / 1e6)
    # A small uncached part with a large cache read is still a total, not "Anthropic style".
    small = priced(provider="anthropic", model=SONNET, tokens_in=1200, tokens_cache_read=1000)
    assert small["cost_usd"] == pytest.approx((200 * 3 + 1000 * 0.3) / 1e6)


def test_explicit_fields_win_over_raw_usage() -> None:
    data = priced(
        provider="anthropic",
        model=SONNET,
        tokens_in=10,
        usage={"input_tokens": 5000, "cache_read_input_tokens": 1000},
    )
    assert data["tokens_in"] == 10
    assert data["cost_usd"] == pytest.approx(30e-6)


def test_pipeline_stores_converted_counts_and_keeps_raw_usage() -> None:
    pipeline = IngestPipeline(Redactor(b"k" * 32), pricer=Pricer(), clock=lambda: JAN)
    out = pipeline.prepare(
        [
            {
                "timestamp": JAN,
                "event_type": "llm_call",
                "stack_name": "s",
                "data": {
                    "provider": "anthropic",
                    "model": SONNET,
                    "usage": {"input_tokens": 5000, "cache_read_input_tokens": 1000},
                },
            }
        ],
        key_stack=None,
    )
    row = json.loads(out.payload)
    assert (row["tokens_in"], row["tokens_cache_read"]) == (6000, 1000)
    assert row["cost_usd"] == pytest.approx(0.0153)
    assert json.loads(row["attributes"])["usage"]["input_tokens"] == 5000


def test_contract_documents_tokens_in_once() -> None:
    from stacklens.event_schema import json_schema

    data = json_schema()["$defs"]["Data"]["properties"]
    assert "cache reads and cache writes" in data["tokens_in"]["description"]
    assert "reasoning tokens included" in data["tokens_out"]["description"]
    assert "usage" in data
