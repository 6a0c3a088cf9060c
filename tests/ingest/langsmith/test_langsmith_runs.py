"""LangSmith runs and feedback → raw events (pure mapping, no hub)."""

from __future__ import annotations

from typing import Any

import pytest

from stacklens.ingest.langsmith.runs import feedback_event, plan_runs

START, END = "2026-12-02T06:00:00.000000", "2026-12-02T06:00:02.000000"


def run(rid: str = "r1", **fields: Any) -> dict[str, Any]:
    return {"id": rid, "name": "chat", "run_type": "llm", "start_time": START, **fields}


def test_post_and_patch_in_one_request_are_one_row_at_the_patch() -> None:
    planned = plan_runs(
        [
            ("post", run(inputs={"p": "hi"})),
            (
                "patch",
                {
                    "id": "r1",
                    "end_time": END,
                    "outputs": {"usage_metadata": {"input_tokens": 30, "output_tokens": 7}},
                },
            ),
        ]
    )
    assert planned.events[0] is None
    row = planned.events[1]
    assert row is not None and row["event_id"] == "ls-r1" and row["event_type"] == "llm_call"
    assert (row["data"]["tokens_in"], row["data"]["tokens_out"]) == (30, 7)
    assert row["data"]["duration_ms"] == 2000.0 and row["data"]["success"] is True


def test_a_started_run_is_a_span_that_counts_nothing() -> None:
    [row] = plan_runs([("post", run(outputs={"usage_metadata": {"input_tokens": 5}}))]).events
    assert row is not None and row["event_id"] == "ls-r1:start" and row["event_type"] == "span"
    assert "tokens_in" not in row["data"] and "success" not in row["data"]


@pytest.mark.parametrize(
    ("extra", "outputs", "expected"),
    [
        ({"metadata": {"ls_model_name": "a"}, "invocation_params": {"model": "b"}}, {}, "a"),
        ({"invocation_params": {"model_name": "b"}}, {}, "b"),
        ({}, {}, "chat-model"),  # the run's name "<provider>/<model>"
    ],
)
def test_where_the_model_comes_from(extra: Any, outputs: Any, expected: str) -> None:
    [row] = plan_runs(
        [("post", run(name="acme/chat-model", end_time=END, extra=extra, outputs=outputs))]
    ).events
    assert row is not None and row["data"]["model"] == expected


@pytest.mark.parametrize(
    ("outputs", "extra", "tokens"),
    [
        ({"llm_output": {"token_usage": {"prompt_tokens": 3, "completion_tokens": 4}}}, {}, (3, 4)),
        ({}, {"metadata": {"usage_metadata": {"input_tokens": 8, "output_tokens": 9}}}, (8, 9)),
        (
            {
                "generations": [
                    [
                        {
                            "message": {
                                "kwargs": {
                                    "usage_metadata": {"input_tokens": 1, "output_tokens": 2}
                                }
                            }
                        }
                    ]
                ]
            },
            {},
            (1, 2),
        ),
        ({}, {"tokens": {"prompt": 11, "completion": 12}}, (11, 12)),
        ({"extra": {"tokens": {"prompt": 13, "completion": 14}}}, {}, (13, 14)),
    ],
)
def test_where_the_usage_comes_from(outputs: Any, extra: Any, tokens: tuple[int, int]) -> None:
    [row] = plan_runs([("post", run(end_time=END, outputs=outputs, extra=extra))]).events
    assert row is not None
    assert (row["data"]["tokens_in"], row["data"]["tokens_out"]) == tokens


def test_tool_chain_error_and_session() -> None:
    planned = plan_runs(
        [
            ("post", run("t", run_type="tool", name="grep", end_time=END, inputs={"q": "x"})),
            (
                "post",
                run(
                    "c",
                    run_type="chain",
                    end_time=END,
                    error="ValueError: bad\nTraceback...",
                    extra={"metadata": {"thread_id": "th", "user_id": "u"}, "runtime": {"a": 1}},
                ),
            ),
        ]
    )
    tool, chain = planned.events
    assert tool is not None and tool["event_type"] == "tool_use"
    assert tool["data"]["tool"] == "grep" and tool["data"]["args"] == {"q": "x"}
    assert chain is not None and chain["event_type"] == "span"
    assert chain["data"]["success"] is False and chain["data"]["error_code"] == "ValueError: bad"
    assert (chain["session_id"], chain["user_id"]) == ("th", "u")
    assert not any(k.startswith("langsmith.extra.runtime") for k in chain["attributes"])


def test_bad_runs_are_refused_alone() -> None:
    planned = plan_runs(
        [
            ("post", "nope"),
            ("post", {"name": "no id"}),
            ("post", {"id": "x"}),
            ("post", run("n", start_time=1e308)),
            ("post", run("ok", end_time=END)),
        ]
    )
    assert [i for i, _ in planned.rejected] == [0, 1, 2, 3]
    assert planned.events[4] is not None


def test_feedback() -> None:
    event = feedback_event(
        {"id": "f", "run_id": "r", "key": "k", "score": True, "value": "great", "comment": "c"},
        received_ns=1_796_191_200_000_000_000,
    )
    assert event["event_id"] == "ls-fb-f" and event["span_id"] == "r" and event["trace_id"] == "r"
    assert event["data"] == {"score": 1.0, "comment": "c"}
    assert event["timestamp"] == 1_796_191_200_000_000_000
    for bad in ({"id": "f", "key": "k", "score": "high"}, {"id": "f"}, {"key": "k"}, []):
        with pytest.raises(ValueError):
            feedback_event(bad, 0)
