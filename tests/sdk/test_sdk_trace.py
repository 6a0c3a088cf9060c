"""traceparent / x-trace-id: read, mint, bind, forward; OpenTelemetry spans win."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stacklens.sdk import context_scope, instrument_httpx, set_trace_context
from stacklens.sdk.trace import (
    clean_trace_id,
    current_trace_ids,
    format_traceparent,
    outgoing_headers,
    parse_traceparent,
    trace_from_headers,
)

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_parse_traceparent() -> None:
    parsed = parse_traceparent(VALID)
    assert parsed is not None
    assert parsed.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parsed.parent_id == "00f067aa0ba902b7"
    assert parsed.sampled is True
    assert parse_traceparent(VALID[:-2] + "00").sampled is False  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # uppercase
        VALID + "-extra",  # version 00 has four fields
    ],
)
def test_invalid_traceparent(value: str | None) -> None:
    assert parse_traceparent(value) is None


def test_future_version_may_add_fields() -> None:
    assert parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz")


@given(st.text(max_size=80))
def test_parse_never_raises(text: str) -> None:
    parse_traceparent(text)
    clean_trace_id(text)


def test_round_trip() -> None:
    assert parse_traceparent(format_traceparent("a" * 32, "b" * 16)) is not None


def test_x_trace_id_cleaning() -> None:
    assert clean_trace_id("req-123") == "req-123"
    uuid = "3F1C2B9E-7D4A-4F6B-9A2C-8E5D1F0B7C3A"
    assert clean_trace_id(uuid) == "3f1c2b9e7d4a4f6b9a2c8e5d1f0b7c3a"
    assert clean_trace_id('x" injected') is None
    assert clean_trace_id("a" * 500) is None
    assert clean_trace_id("line\nbreak") is None


def test_precedence_traceparent_then_x_trace_id_then_mint() -> None:
    both = trace_from_headers({"traceparent": VALID, "x-trace-id": "other"})
    assert both.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert both.parent_span_id == "00f067aa0ba902b7"
    assert both.span_id != both.parent_span_id
    seed = trace_from_headers([(b"x-trace-id", b"abc123")])
    assert (seed.trace_id, seed.minted) == ("abc123", False)
    minted = trace_from_headers({})
    assert minted.minted
    assert len(minted.trace_id) == 32
    assert parse_traceparent(format_traceparent(minted.trace_id, minted.span_id))


@pytest.fixture
def otel_tracer() -> object:
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider().get_tracer("test")


def test_active_otel_span_wins(otel_tracer: object) -> None:
    set_trace_context("from-context", "ctxspan")
    with otel_tracer.start_as_current_span("work") as span:  # type: ignore[attr-defined]
        ctx = span.get_span_context()
        expected = (format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
        assert current_trace_ids() == expected
        assert trace_from_headers({"x-trace-id": "ignored"}).trace_id == expected[0]
    assert current_trace_ids() == ("from-context", "ctxspan")


def test_outgoing_headers() -> None:
    assert outgoing_headers() == {}
    set_trace_context("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    assert outgoing_headers() == {
        "x-trace-id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "traceparent": VALID,
    }
    with context_scope(trace_id="req-7"):
        assert outgoing_headers() == {"x-trace-id": "req-7"}  # not W3C-shaped: seed header only


def _echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=dict(request.headers))


def test_httpx_hook_forwards_the_trace() -> None:
    client = instrument_httpx(httpx.Client(transport=httpx.MockTransport(_echo)))
    instrument_httpx(client)  # idempotent
    assert len(client.event_hooks["request"]) == 1
    assert "x-trace-id" not in client.get("http://svc/").json()
    with context_scope(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7"):
        seen = client.get("http://svc/").json()
        assert seen["x-trace-id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert seen["traceparent"] == VALID
        explicit = client.get("http://svc/", headers={"x-trace-id": "mine"}).json()
        assert explicit["x-trace-id"] == "mine"


def test_async_httpx_hook() -> None:
    async def run() -> dict[str, str]:
        async with instrument_httpx(
            httpx.AsyncClient(transport=httpx.MockTransport(_echo))
        ) as client:
            with context_scope(trace_id="abc"):
                response = await client.get("http://svc/")
                return dict(response.json())

    assert asyncio.run(run())["x-trace-id"] == "abc"
