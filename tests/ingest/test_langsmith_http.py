"""The LangSmith run API: the real langsmith JS SDK (seed 001's LangsmithService) and the
real Python SDK against a real hub; a run counted once across post and patch requests,
and a key never writing into another stack, in process."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacklens.testing import in_process_hub, wait_until
from stacklens.testing.llm_clients import (
    ClientHub,
    client_hub,
    events_of,
    run_node_client,
)

CLIENT_DIR = Path(__file__).parents[1] / "clients" / "langsmith"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientHub]:
    with client_hub(tmp_path_factory.mktemp("langsmith") / "data", ("ls-js", "ls-py")) as running:
        yield running


def test_seed_langsmith_service_with_the_js_sdk(hub: ClientHub) -> None:
    params = {
        "model": "gpt-4o-mini",
        "provider": "openai",
        "prompt": "Summarise the ticket",
        "response": "The user cannot log in.",
        "inputTokens": 2000,
        "outputTokens": 100,
        "durationMs": 800,
    }
    env = {"LANGCHAIN_API_KEY": hub.keys["ls-js"], "LANGCHAIN_ENDPOINT": hub.process.url}
    sent = run_node_client(CLIENT_DIR, env, params, {"region": "eu"}, "1", "resolved")
    events = events_of(hub.process, "ls-js", 2)
    assert sorted(e["event_type"] for e in events) == ["feedback", "llm_call"]
    [call] = [e for e in events if e["event_type"] == "llm_call"]
    assert call["span_id"] == sent["runId"] and call["message"] == "openai/gpt-4o-mini"
    # The seed names its run "<provider>/<model>" and puts the tokens in what it passes
    # to RunTree.end() (the outputs): both read from there.
    assert (call["model"], call["provider"]) == ("gpt-4o-mini", "openai")
    assert (call["tokens_in"], call["tokens_out"]) == (2000, 100)
    # gpt-4o-mini: 2000 * 0.15e-6 + 100 * 0.6e-6 = 0.0003 + 0.00006.
    assert call["cost_usd"] == pytest.approx(0.00036)
    assert call["success"] is True and call["duration_ms"] >= 0
    assert "content" not in call and call["content_hash"]
    [feedback] = [e for e in events if e["event_type"] == "feedback"]
    assert feedback["span_id"] == sent["runId"]
    assert (feedback["score"], feedback["comment"], feedback["message"]) == (
        1.0,
        "resolved",
        "user-feedback",
    )


def test_python_sdk_traceable_llm_tool_chain_and_feedback(hub: ClientHub) -> None:
    from langsmith import Client, traceable, tracing_context

    client = Client(api_key=hub.keys["ls-py"], api_url=hub.process.url)

    @traceable(run_type="tool", name="lookup", client=client)
    def lookup(city: str) -> str:
        return f"sunny in {city}"

    @traceable(
        run_type="llm",
        name="chat",
        client=client,
        metadata={"ls_model_name": "gpt-4o", "ls_provider": "openai"},
    )
    def chat(prompt: str) -> dict[str, Any]:
        return {
            "choices": [{"message": {"content": "It is sunny."}}],
            "usage_metadata": {
                "input_tokens": 1200,
                "output_tokens": 300,
                "total_tokens": 1500,
                "input_token_details": {"cache_read": 1000},
                "output_token_details": {"reasoning": 100},
            },
        }

    @traceable(run_type="chain", name="agent", client=client)
    def agent(question: str) -> str:
        lookup("Paris")
        return str(chat(question)["choices"][0]["message"]["content"])

    run_ids = [str(uuid.uuid4())]
    with tracing_context(enabled=True):
        agent(
            "weather in Paris?",
            langsmith_extra={"run_id": run_ids[0], "metadata": {"user_id": "eve"}},
        )
    client.flush()
    client.create_feedback(run_ids[0], key="thumbs", score=0, comment="wrong city")
    client.flush()
    events = events_of(hub.process, "ls-py", 4)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["event_type"], []).append(event)
    assert sorted(by_type) == ["feedback", "llm_call", "span", "tool_use"]
    [call] = by_type["llm_call"]
    assert (call["model"], call["provider"]) == ("gpt-4o", "openai")
    assert (call["tokens_in"], call["tokens_cache_read"]) == (1200, 1000)
    assert (call["tokens_out"], call["tokens_reasoning"]) == (300, 100)
    [tool] = by_type["tool_use"]
    assert tool["tool"] == "lookup" and tool["success"] is True and tool["args_hash"]
    [chain] = by_type["span"]
    assert chain["span_id"] == run_ids[0] and chain["message"] == "agent"
    assert call["parent_span_id"] == run_ids[0] == tool["parent_span_id"]
    assert chain["user_id"].startswith("u_")
    [feedback] = by_type["feedback"]
    assert feedback["span_id"] == run_ids[0] and feedback["score"] == 0.0


# ---------------------------------------------------------------- in process


def _iso(seconds: float) -> str:
    base = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
    return (base + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "")


def test_post_then_patch_in_two_requests_counts_the_run_once(tmp_path: Path) -> None:
    with in_process_hub(tmp_path / "data") as (hub, client):
        _, key = hub.keyring.create("ingest", stack="runs")
        headers = {"X-API-Key": key}
        run_id = str(uuid.uuid4())
        run = {
            "id": run_id,
            "name": "chat",
            "run_type": "llm",
            "start_time": _iso(0),
            "inputs": {"prompt": "hi"},
            "extra": {"metadata": {"ls_model_name": "gpt-4o-mini", "thread_id": "th-1"}},
        }
        assert client.post("/runs", json=run, headers=headers).status_code == 202
        end = {
            **run,
            "end_time": _iso(1.5),
            "outputs": {
                "llm_output": {"token_usage": {"prompt_tokens": 7, "completion_tokens": 3}}
            },
        }
        del end["id"]
        for _ in range(2):  # the ending patch, and a retry of it
            patched = client.patch(f"/runs/{run_id}", json=end, headers=headers)
            assert patched.status_code == 202

        def fetch() -> list[dict[str, Any]] | None:
            found = client.get("/api/v1/events", params={"stack": "runs"}).json()["events"]
            return found if len(found) >= 2 else None

        events = wait_until(fetch)
        calls = [e for e in events if e["event_type"] == "llm_call"]
        assert len(calls) == 1
        [call] = calls
        assert (call["tokens_in"], call["tokens_out"], call["duration_ms"]) == (7, 3, 1500.0)
        assert call["session_id"] == "th-1" and call["model"] == "gpt-4o-mini"
        [started] = [e for e in events if e["event_type"] == "span"]
        assert started["attributes"]["langsmith.phase"] == "started"
        assert "tokens_in" not in started
        # A body id other than the path's, and another stack through the header: refused.
        wrong = client.patch(f"/runs/{run_id}", json={**end, "id": "other"}, headers=headers)
        assert wrong.status_code == 400
        other = client.post("/runs", json=run, headers={**headers, "X-Stack-Name": "b"})
        assert other.status_code == 403
        assert client.get("/api/v1/events", params={"stack": "b"}).json()["events"] == []
        info = client.get("/info").json()
        assert info["batch_ingest_config"]["use_multipart_endpoint"] is True
        assert info["instance_flags"] == {}


def test_batch_and_multipart_in_the_worker_pool(tmp_path: Path) -> None:
    # The decoders (PATCH's carries its path id) run in a worker process, as pickled.
    with in_process_hub(tmp_path / "data", ingest_workers=1) as (hub, client):
        _, key = hub.keyring.create("ingest", stack="pool")
        headers = {"X-API-Key": key}
        a, b, c = (str(uuid.uuid4()) for _ in range(3))
        llm = {"name": "m", "run_type": "llm", "start_time": _iso(0), "end_time": _iso(1)}
        batch = {"post": [{**llm, "id": a}], "patch": []}
        assert client.post("/runs/batch", json=batch, headers=headers).status_code == 202
        post = {"id": b, "name": "t", "run_type": "tool", "start_time": _iso(0)}
        assert client.post("/runs", json=post, headers=headers).status_code == 202
        patch = {**post, "end_time": _iso(3)}
        assert client.patch(f"/runs/{b}", json=patch, headers=headers).status_code == 202
        boundary = "bnd"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="post.{c}"\r\n'
            f"Content-Type: application/json\r\n\r\n"
            + '{"name": "agent", "run_type": "chain", "start_time": "2026-12-02T06:00:00",'
            ' "end_time": "2026-12-02T06:00:04"}' + f"\r\n--{boundary}\r\n"
            f'Content-Disposition: form-data; name="feedback.{c}"\r\n\r\n'
            + f'{{"id": "{c}", "run_id": "{c}", "key": "ok", "score": 0.5}}'
            + f"\r\n--{boundary}--\r\n"
        ).encode()
        multipart = {**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        assert client.post("/runs/multipart", content=body, headers=multipart).status_code == 202
        # A key bound to "pool" naming another stack: refused whole, nothing stored there.
        elsewhere = {**multipart, "X-Stack-Name": "other"}
        assert client.post("/runs/multipart", content=body, headers=elsewhere).status_code == 403

        def fetch() -> list[dict[str, Any]] | None:
            found = client.get("/api/v1/events", params={"stack": "pool"}).json()["events"]
            return found if len(found) >= 5 else None

        events = wait_until(fetch, timeout=15)
        kinds = sorted((e["event_type"], e["span_id"]) for e in events)
        assert kinds == sorted(
            [("llm_call", a), ("span", b), ("tool_use", b), ("span", c), ("feedback", c)]
        )
        tool = next(e for e in events if e["event_type"] == "tool_use")
        assert tool["duration_ms"] == 3000.0
        assert client.get("/api/v1/events", params={"stack": "other"}).json()["events"] == []
