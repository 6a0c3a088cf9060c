"""The langfuse.* attributes on decoded OTLP span events."""

from __future__ import annotations

from typing import Any

from stacklens.ingest.langfuse.otel import apply_langfuse_attributes


def span(attributes: dict[str, Any], event_type: str = "span", **data: Any) -> dict[str, Any]:
    return {"event_type": event_type, "message": "op", "data": data, "attributes": attributes}


def test_generation_with_usage_and_cost_details_as_json_text() -> None:
    event = apply_langfuse_attributes(
        span(
            {
                "langfuse.observation.type": "generation",
                "langfuse.observation.model.name": "gpt-4o",
                "langfuse.observation.usage_details": '{"input": 10, "output": 4}',
                "langfuse.observation.cost_details": '{"total": 0.02}',
                "langfuse.session.id": "s",
                "langfuse.user.id": "u",
            }
        )
    )
    assert event["event_type"] == "llm_call"
    assert event["data"] == {"model": "gpt-4o", "tokens_in": 10, "tokens_out": 4, "cost_usd": 0.02}
    assert (event["session_id"], event["user_id"]) == ("s", "u")
    assert "langfuse.observation.usage_details" not in event["attributes"]


def test_gen_ai_tokens_win_and_spans_keep_no_token_columns() -> None:
    call = apply_langfuse_attributes(
        span(
            {
                "langfuse.observation.type": "generation",
                "langfuse.observation.usage_details": '{"input": 99}',
            },
            tokens_in=10,
        )
    )
    assert call["data"]["tokens_in"] == 10
    agent = apply_langfuse_attributes(
        span({"langfuse.observation.type": "agent"}, "llm_call", tokens_in=50, cost_usd=1.0)
    )
    assert agent["event_type"] == "span" and "tokens_in" not in agent["data"]
    assert agent["attributes"]["langfuse.tokens_in"] == 50


def test_tool_and_error_level() -> None:
    tool = apply_langfuse_attributes(
        span(
            {
                "langfuse.observation.type": "tool",
                "langfuse.observation.level": "ERROR",
                "langfuse.observation.status_message": "timeout",
            }
        )
    )
    assert tool["event_type"] == "tool_use" and tool["data"]["tool"] == "op"
    assert tool["data"]["success"] is False and tool["data"]["error_code"] == "timeout"
    untouched = apply_langfuse_attributes(span({"langfuse.observation.usage_details": "{bad"}))
    assert untouched["event_type"] == "span" and untouched["data"] == {}
