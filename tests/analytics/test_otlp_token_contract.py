"""OTLP GenAI token attributes land on the token contract as they are (the semconv's
input_tokens already include cached tokens, output_tokens reasoning tokens) and are
priced from genai-prices' table: figures computed by hand."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from stacklens.analytics.pricing import Pricer
from stacklens.ingest.otlp import decode_traces
from stacklens.schema import normalize


class _Memory(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def priced_span(attributes: dict[str, Any]) -> dict[str, Any]:
    """One span through the real SDK, the OTLP protobuf encoder, the hub's decoder,
    normalize and the pricer."""
    memory = _Memory()
    provider = TracerProvider(resource=Resource.create({"service.name": "chat"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("chat", kind=SpanKind.CLIENT) as span:
        span.set_attributes({"gen_ai.operation.name": "chat", **attributes})
    provider.shutdown()
    body = encode_spans(memory.spans).SerializeToString()
    [raw] = decode_traces(body, "application/x-protobuf").events
    event = normalize(raw, default_stack="s", now_ns=time.time_ns(), new_id=lambda: "x")
    Pricer().apply(event)
    data: dict[str, Any] = event["data"]
    return data


def test_semconv_anthropic_span_cache_parts_of_input() -> None:
    # 6400 input = 5000 uncached + 1000 read + 400 written; 200 out incl. 50 reasoning:
    # 5000x3 + 1000x0.30 + 400x3.75 + 200x15 per MTok.
    data = priced_span(
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.response.model": "claude-sonnet-4-20250514",
            "gen_ai.usage.input_tokens": 6400,
            "gen_ai.usage.cache_read.input_tokens": 1000,
            "gen_ai.usage.cache_creation.input_tokens": 400,
            "gen_ai.usage.output_tokens": 200,
            "gen_ai.usage.reasoning.output_tokens": 50,
        }
    )
    assert (data["tokens_in"], data["tokens_cache_read"], data["tokens_cache_write"]) == (
        6400,
        1000,
        400,
    )
    assert (data["tokens_out"], data["tokens_reasoning"]) == (200, 50)
    assert data["cost_usd"] == pytest.approx(19_800e-6)


def test_openllmetry_anthropic_names() -> None:
    # OpenLLMetry sums Anthropic's input + cache into gen_ai.usage.input_tokens.
    data = priced_span(
        {
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-20250514",
            "gen_ai.usage.input_tokens": 6000,
            "gen_ai.usage.cache_read_input_tokens": 1000,
            "gen_ai.usage.output_tokens": 0,
        }
    )
    assert data["cost_usd"] == pytest.approx(0.0153)  # 5000x3 + 1000x0.30


def test_openinference_openai_span() -> None:
    # prompt 6000 incl. 1000 cached; completion 500 incl. 200 reasoning (not added):
    # 5000x0.15 + 1000x0.075 + 500x0.60 per MTok.
    data = priced_span(
        {
            "llm.provider": "openai",
            "llm.model_name": "gpt-4o-mini",
            "llm.token_count.prompt": 6000,
            "llm.token_count.prompt_details.cache_read": 1000,
            "llm.token_count.completion": 500,
            "llm.token_count.completion_details.reasoning": 200,
        }
    )
    assert data["cost_usd"] == pytest.approx(1125e-6)
