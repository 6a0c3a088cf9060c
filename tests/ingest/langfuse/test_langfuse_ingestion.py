"""Langfuse envelopes → one event slot each (pure mapping, no hub)."""

from __future__ import annotations

from typing import Any

import pytest

from stacklens.ingest.langfuse.ingestion import LangfuseBodyError, envelope_ids, parse_batch, plan

NOW = "2026-12-02T06:00:00.000Z"


def env(eid: str, kind: str, **body: Any) -> dict[str, Any]:
    return {"id": eid, "type": kind, "timestamp": NOW, "body": body}


def test_a_trace_gives_its_session_and_user_to_its_observations() -> None:
    planned = plan(
        [
            env("e1", "trace-create", id="t1", sessionId="s1", userId="u1", input="q"),
            env(
                "e2",
                "generation-create",
                id="g1",
                traceId="t1",
                model="gpt-4o",
                startTime=NOW,
                usage={"input": 1, "output": 1},
            ),
            env("e3", "tool-create", id="x1", traceId="t1", name="search", input={"q": 1}),
            env("e4", "event-create", id="v1", traceId="t1", level="ERROR", statusMessage="boom"),
        ]
    )
    assert planned.rejected == []
    trace, call, tool, event = planned.events
    assert trace is not None and call is not None and tool is not None and event is not None
    assert trace["event_type"] == "span" and trace["data"]["content"] == "q"
    assert call["event_type"] == "llm_call" and call["event_id"] == "lf-g1"
    assert (call["session_id"], call["user_id"]) == ("s1", "u1")
    assert tool["event_type"] == "tool_use" and tool["data"]["tool"] == "search"
    assert tool["data"]["content"] == '{"q":1}'
    assert event["data"]["success"] is False and event["data"]["error_code"] == "boom"


def test_updates_merge_into_their_create_wherever_they_are_in_the_batch() -> None:
    planned = plan(
        [
            env("u1", "generation-update", id="g1", endTime="2026-12-02T06:00:01.000Z"),
            env("c1", "generation-create", id="g1", startTime=NOW, model="m"),
            env("u2", "generation-update", id="g1", usageDetails={"input": 5, "output": 6}),
        ]
    )
    assert planned.events[0] is None and planned.events[2] is None
    merged = planned.events[1]
    assert merged is not None
    assert merged["data"]["duration_ms"] == 1000.0
    assert (merged["data"]["tokens_in"], merged["data"]["tokens_out"]) == (5, 6)


def test_a_create_before_the_call_is_over_is_a_start_span() -> None:
    [start] = plan([env("c1", "generation-create", id="g1", startTime=NOW, model="m")]).events
    assert start is not None and start["event_type"] == "span"
    assert start["event_id"] == "lf-g1:start" and start["attributes"]["langfuse.model"] == "m"
    assert "model" not in start["data"]


def test_a_late_update_that_ends_the_call_is_the_call_and_a_span() -> None:
    planned = plan([env("u9", "generation-update", id="g1", usage={"input": 5, "output": 2})])
    [call] = planned.events
    [(owner, update)] = planned.extra
    assert call is not None and call["event_type"] == "llm_call" and call["event_id"] == "lf-g1"
    assert (call["data"]["tokens_in"], call["data"]["tokens_out"]) == (5, 2)
    assert owner == 0 and update["event_type"] == "span" and update["event_id"] == "lf-u9"
    assert "tokens_in" not in update["data"] and update["attributes"]["langfuse.tokens_in"] == 5
    assert update["attributes"]["langfuse.update_of"] == "g1"


def test_a_late_update_without_end_or_usage_is_only_a_span() -> None:
    planned = plan([env("u8", "generation-update", id="g1", output="later")])
    [update] = planned.events
    assert planned.extra == []
    assert update is not None and update["event_type"] == "span"
    assert update["data"]["content"] == "later"


def test_scores() -> None:
    events = plan(
        [
            env("s1", "score-create", id="sc", traceId="t", name="n", value=True),
            env("s2", "score-create", traceId="t", name="n", value="good", observationId="o"),
            env("s3", "score-create", traceId="t", name="n", value=[1]),
            env("s4", "score-create", traceId="t", value=1),
        ]
    )
    first, second = events.events[0], events.events[1]
    assert (
        first is not None and first["data"]["score"] == 1.0 and first["event_id"] == "lf-score-sc"
    )
    assert second is not None and second["attributes"]["langfuse.score.value"] == "good"
    assert second["span_id"] == "o" and second["event_id"] == "lf-score-s2"
    assert [i for i, _ in events.rejected] == [2, 3]


@pytest.mark.parametrize(
    ("envelope", "reason"),
    [
        ("nope", "must be an object"),
        ({"type": "trace-create", "body": {"id": "t"}}, "envelope id"),
        ({"id": "e", "type": 5, "body": {}}, "type must be a string"),
        ({"id": "e", "type": "trace-create", "body": []}, "body must be an object"),
        ({"id": "e", "type": "trace-update", "body": {"id": "t"}}, "unknown envelope type"),
        ({"id": "e", "type": "span-create", "body": {}}, "needs an id"),
        ({"id": "e", "type": "span-create", "body": {"id": "s"}}, "timestamp"),
        (
            {
                "id": "e",
                "type": "span-create",
                "timestamp": NOW,
                "body": {"id": "s", "startTime": "x"},
            },
            "startTime",
        ),
    ],
)
def test_bad_envelopes_are_refused_alone(envelope: Any, reason: str) -> None:
    good = env("ok", "span-create", id="fine")
    planned = plan([envelope, good])
    assert [i for i, _ in planned.rejected] == [0]
    assert reason in planned.rejected[0][1]
    assert planned.events[1] is not None


def test_body_shape_and_ids() -> None:
    with pytest.raises(LangfuseBodyError):
        parse_batch(b"[]")
    with pytest.raises(LangfuseBodyError):
        parse_batch(b"{not json")
    assert envelope_ids(parse_batch(b'{"batch": [{"id": "a"}, 3, {"id": ""}]}')) == [
        "a",
        "#1",
        "#2",
    ]
