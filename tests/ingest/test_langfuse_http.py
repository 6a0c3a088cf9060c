"""The Langfuse API: the real langfuse JS v3 SDK (seed 001's LangfuseService) and the real
OTel-based Python SDK against a real hub; the 207 answers, merging, no double count and
the public key's stack rules in process."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from stacklens.testing import ADMIN_KEY, in_process_hub, wait_until
from stacklens.testing.llm_clients import (
    ClientHub,
    client_hub,
    events_of,
    run_node_client,
)

CLIENT_DIR = Path(__file__).parents[1] / "clients" / "langfuse"
NOW = "2026-12-02T06:00:00.000Z"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientHub]:
    with client_hub(tmp_path_factory.mktemp("langfuse") / "data", ("lf-js", "lf-py")) as running:
        yield running


def test_seed_langfuse_service_with_the_js_sdk(hub: ClientHub) -> None:
    params = {
        "model": "gpt-4o-mini",
        "provider": "openai",
        "prompt": "What is the capital of France?",
        "response": "Paris.",
        "inputTokens": 1000,
        "outputTokens": 500,
        "durationMs": 1234,
        "sessionId": "chat-42",
        "userId": "alice",
    }
    env = {
        "LANGFUSE_PUBLIC_KEY": "pk-lf-1234",  # a real Langfuse public key: the key's stack
        "LANGFUSE_SECRET_KEY": hub.keys["lf-js"],
        "LANGFUSE_HOST": hub.process.url,
    }
    sent = run_node_client(CLIENT_DIR, env, params, {"region": "eu"}, "4", "spot on")

    def of_trace() -> list[dict[str, Any]] | None:
        found = events_of(hub.process, "lf-js", 1)
        mine = [e for e in found if e.get("trace_id") == sent["traceId"]]
        return mine if len(mine) >= 3 else None

    events = wait_until(of_trace, timeout=20)
    by_type = {e["event_type"]: e for e in events}
    assert sorted(e["event_type"] for e in events) == ["feedback", "llm_call", "span"]
    call = by_type["llm_call"]
    assert call["trace_id"] == sent["traceId"] and call["message"] == "llm-call"
    assert call["model"] == "gpt-4o-mini"
    assert (call["tokens_in"], call["tokens_out"]) == (1000, 500)
    # The hub's pricer: gpt-4o-mini at $0.15 / $0.60 per million: 1000*0.15e-6 + 500*0.6e-6.
    assert call["cost_usd"] == pytest.approx(0.00045)
    assert call["session_id"] == "chat-42"
    assert call["user_id"].startswith("u_")  # pseudonymized, as every user id
    # Content is hashed, never stored: len("What is the capital of France?\nParis.").
    assert call["content_length"] == 37 and "content" not in call
    assert call["attributes"]["langfuse.metadata.provider"] == "openai"
    trace = by_type["span"]
    assert trace["message"] == "openai/gpt-4o-mini" and trace["session_id"] == "chat-42"
    assert trace["attributes"]["langfuse.metadata.region"] == "eu"
    feedback = by_type["feedback"]
    assert feedback["trace_id"] == sent["traceId"]
    assert (feedback["score"], feedback["comment"]) == (4.0, "spot on")


def test_js_sdk_generation_ended_after_a_flush_is_counted_once(hub: ClientHub) -> None:
    params = {
        "model": "gpt-4o-mini",
        "prompt": "Write a long essay",
        "response": "An essay.",
        "inputTokens": 300,
        "outputTokens": 1200,
        "sessionId": "long-1",
    }
    env = {
        "LANGFUSE_PUBLIC_KEY": "lf-js",
        "LANGFUSE_SECRET_KEY": hub.keys["lf-js"],
        "LANGFUSE_HOST": hub.process.url,
    }
    sent = run_node_client(CLIENT_DIR, env, params, script="late.js")

    def rows() -> list[dict[str, Any]] | None:
        found = [
            e
            for e in events_of(hub.process, "lf-js", 1)
            if e.get("span_id") == sent["generationId"]
        ]
        return found if len(found) >= 3 else None

    found = wait_until(rows, timeout=20)
    calls = [e for e in found if e["event_type"] == "llm_call"]
    assert len(calls) == 1 and len(found) == 3
    [call] = calls
    assert (call["tokens_in"], call["tokens_out"]) == (300, 1200)
    assert call["trace_id"] == sent["traceId"]
    [start] = [e for e in found if e["event_id"].endswith(":start")]
    assert start["attributes"]["langfuse.model"] == "gpt-4o-mini"
    assert start["session_id"] == "long-1"


def test_python_sdk_generation_over_otel_and_its_score(hub: ClientHub) -> None:
    from langfuse import Langfuse, propagate_attributes

    langfuse = Langfuse(
        public_key="lf-py",  # names the stack: the bound key's own, so allowed
        secret_key=hub.keys["lf-py"],
        base_url=hub.process.url,
        tracing_enabled=True,
    )
    assert langfuse.auth_check()
    with (
        langfuse.start_as_current_observation(as_type="span", name="handle-request"),
        propagate_attributes(session_id="py-session", user_id="bob"),
        langfuse.start_as_current_observation(
            as_type="generation", name="chat", model="claude-sonnet-4"
        ) as generation,
    ):
        generation.update(
            input=[{"role": "user", "content": "hello"}],
            output="hi!",
            usage_details={"input": 100, "cache_read_input_tokens": 900, "output": 50},
            cost_details={"total": 0.0123},
        )
        trace_id = generation.trace_id
        observation_id = generation.id
    langfuse.create_score(name="helpful", value=1.0, trace_id=trace_id, comment="yes")
    langfuse.flush()
    langfuse.shutdown()
    events = events_of(hub.process, "lf-py", 3)
    calls = [e for e in events if e["event_type"] == "llm_call"]
    assert len(calls) == 1
    [call] = calls
    assert call["model"] == "claude-sonnet-4" and call["span_id"] == observation_id
    # Langfuse's usage parts are disjoint: all input is 100 + 900 cache reads.
    assert (call["tokens_in"], call["tokens_cache_read"], call["tokens_out"]) == (1000, 900, 50)
    assert call["cost_usd"] == pytest.approx(0.0123)
    assert call["session_id"] == "py-session" and call["user_id"].startswith("u_")
    assert "content" not in call and call["content_hash"]
    spans = [e for e in events if e["event_type"] == "span"]
    assert [s["message"] for s in spans] == ["handle-request"]
    assert "tokens_in" not in spans[0]
    [feedback] = [e for e in events if e["event_type"] == "feedback"]
    assert feedback["trace_id"] == trace_id and feedback["score"] == 1.0


# ---------------------------------------------------------------- in process


def basic(public: str, secret: str = ADMIN_KEY) -> dict[str, str]:
    token = base64.b64encode(f"{public}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-API-Key": ""}


def generation(oid: str, **fields: Any) -> dict[str, Any]:
    return {"id": oid, "traceId": "t-1", "name": "llm", "startTime": NOW, **fields}


def post(client: Any, batch: list[dict[str, Any]], headers: dict[str, str]) -> Any:
    stamped = [{"timestamp": NOW, **envelope} for envelope in batch]  # as the SDKs send
    return client.post("/api/public/ingestion", json={"batch": stamped}, headers=headers)


def stored(client: Any, stack: str, count: int) -> list[dict[str, Any]]:
    def fetch() -> list[dict[str, Any]] | None:
        found = client.get("/api/v1/events", params={"stack": stack}).json()["events"]
        return found if len(found) >= count else None

    return wait_until(fetch)


def test_207_per_envelope_merge_and_no_double_count(tmp_path: Path) -> None:
    with in_process_hub(tmp_path / "data") as (_, client):
        headers = basic("merge")
        batch = [
            {"id": "e1", "type": "generation-create", "body": generation("g1", model="gpt-4o")},
            {
                "id": "e2",
                "type": "generation-update",
                "body": {
                    "id": "g1",
                    "endTime": "2026-12-02T06:00:02.500Z",
                    "usage": {"input": 10, "output": 20, "totalCost": 0.5},
                },
            },
            {"id": "e3", "type": "widget-create", "body": {"id": "w"}},
            {"id": "e4", "type": "span-create", "body": "not an object"},
            {"id": "e5", "type": "sdk-log", "body": {"log": "hello"}},
        ]
        first = post(client, batch, headers)
        assert first.status_code == 207
        answer = first.json()
        assert [s["id"] for s in answer["successes"]] == ["e1", "e2", "e5"]
        assert [(e["id"], e["status"]) for e in answer["errors"]] == [("e3", 400), ("e4", 400)]
        assert "unknown envelope type 'widget-create'" in answer["errors"][0]["message"]
        # The same update again, in a later request, and a retry of the whole first batch.
        late = post(
            client,
            [
                {
                    "id": "e6",
                    "type": "generation-update",
                    "body": {"id": "g1", "usage": {"input": 99, "output": 99}},
                }
            ],
            headers,
        )
        assert late.status_code == 207 and late.json()["errors"] == []
        retry = post(client, batch, headers)
        assert retry.status_code == 207 and retry.json() == answer
        events = stored(client, "merge", 2)
        calls = [e for e in events if e["event_type"] == "llm_call"]
        assert len(calls) == 1
        [call] = calls
        assert (call["tokens_in"], call["tokens_out"], call["cost_usd"]) == (10, 20, 0.5)
        assert call["duration_ms"] == 2500.0 and call["success"] is True
        [update] = [e for e in events if e["event_type"] == "span"]
        assert update["attributes"]["langfuse.update_of"] == "g1"
        assert update["attributes"]["langfuse.tokens_in"] == 99 and "tokens_in" not in update


def test_a_generation_ended_in_a_later_request_is_counted_once_with_its_usage(
    tmp_path: Path,
) -> None:
    with in_process_hub(tmp_path / "data") as (_, client):
        headers = basic("later")
        started = [{"id": "e1", "type": "generation-create", "body": generation("g7", model="m")}]
        assert post(client, started, headers).status_code == 207
        end = {
            "id": "g7",
            "traceId": "t-1",
            "endTime": "2026-12-02T06:00:03.000Z",
            "usage": {"input": 40, "output": 2, "totalCost": 0.25},
        }
        ended = [{"id": "e2", "type": "generation-update", "body": end}]
        for _ in range(2):  # the update, and an SDK retry of it
            answer = post(client, ended, headers)
            assert answer.status_code == 207 and [s["id"] for s in answer.json()["successes"]] == [
                "e2"
            ]
        events = stored(client, "later", 3)
        calls = [e for e in events if e["event_type"] == "llm_call"]
        assert len(calls) == 1 and len(events) == 3
        [call] = calls
        assert (call["tokens_in"], call["tokens_out"], call["cost_usd"]) == (40, 2, 0.25)
        assert call["span_id"] == "g7" and "model" not in call  # end() does not repeat it
        spans = {e["event_id"]: e for e in events if e["event_type"] == "span"}
        assert set(spans) == {"lf-g7:start", "lf-e2"}
        assert spans["lf-g7:start"]["attributes"]["langfuse.model"] == "m"


def test_public_key_names_the_stack_but_never_another(tmp_path: Path) -> None:
    with in_process_hub(tmp_path / "data") as (hub, client):
        _, key_a = hub.keyring.create("ingest", stack="stack-a")
        one = [{"id": "e1", "type": "generation-create", "body": generation("g1", model="m")}]
        assert post(client, one, basic("stack-a", key_a)).status_code == 207
        refused = post(client, one, basic("stack-b", key_a))
        assert refused.status_code == 403 and "stack-a" in refused.json()["message"]
        # A body field never names a stack either: stack_name in a body is metadata.
        sneaky = [
            {
                "id": "e2",
                "type": "generation-create",
                "body": generation("g2", model="m", metadata={"stack_name": "stack-b"}),
            }
        ]
        assert post(client, sneaky, basic("pk-lf-abc", key_a)).status_code == 207
        projects = client.get("/api/public/projects", headers=basic("stack-b", key_a)).json()
        assert projects["data"] == []
        own = client.get("/api/public/projects", headers=basic("pk-lf-x", key_a)).json()
        assert [p["name"] for p in own["data"]] == ["stack-a"]
        unbound = client.get("/api/public/projects", headers=basic("pk-lf-x")).json()
        assert unbound["data"] == []  # an unbound key and no stack named: nowhere to write
        # OTel: a resource naming another stack is refused whole for a bound key.
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        kv = resource_spans.resource.attributes.add(key="stack.name")
        kv.value.string_value = "stack-b"
        span = resource_spans.scope_spans.add().spans.add()
        span.trace_id, span.span_id, span.name = b"\x01" * 16, b"\x02" * 8, "chat"
        span.start_time_unix_nano = 1_796_191_200_000_000_000
        otel = client.post(
            "/api/public/otel/v1/traces",
            content=request.SerializeToString(),
            headers={**basic("pk-lf-x", key_a), "Content-Type": "application/x-protobuf"},
        )
        assert otel.status_code == 403
        assert post(client, one, basic("Not A Stack", key_a)).status_code == 400
        assert post(client, one, basic("stack-a", "wrong-key")).status_code == 401
        events = stored(client, "stack-a", 2)
        assert {e["stack_name"] for e in events} == {"stack-a"}
        assert client.get("/api/v1/events", params={"stack": "stack-b"}).json()["events"] == []


def test_ingestion_and_scores_in_the_worker_pool(tmp_path: Path) -> None:
    with in_process_hub(tmp_path / "data", ingest_workers=1) as (_, client):
        headers = basic("pool")
        batch = [
            {"id": "e1", "type": "generation-create", "body": generation("g1", model="m")},
            {"id": "e2", "type": "nope", "body": {}},
        ]
        answer = post(client, batch, headers)
        assert answer.status_code == 207
        assert [e["id"] for e in answer.json()["errors"]] == ["e2"]
        scores = [
            {"id": "s1", "traceId": "t-1", "name": "helpful", "value": 0.75},
            {"id": "s2", "traceId": "t-1", "value": 1},  # no name
        ]
        many = client.post("/api/public/scores", json=scores, headers=headers)
        assert many.status_code == 207
        assert (many.json()["accepted"], many.json()["rejected"]) == (1, 1)
        one = client.post(
            "/api/public/scores", json={"id": "s3", "name": "x", "value": 1}, headers=headers
        )
        assert (one.status_code, one.json()) == (200, {"id": "s3"})
        events = stored(client, "pool", 3)
        scores_stored = sorted(e["score"] for e in events if e["event_type"] == "feedback")
        assert scores_stored == [0.75, 1.0]


def test_a_refused_second_row_is_reported_on_its_envelope(tmp_path: Path) -> None:
    with in_process_hub(tmp_path / "data") as (_, client):
        huge = {"id": "g8", "traceId": "t-1", "usage": {"input": 2**70, "output": 1}}
        batch = [
            {"id": "ok", "type": "span-create", "body": {"id": "s8", "startTime": NOW}},
            {"id": "late", "type": "generation-update", "body": huge},
        ]
        answer = post(client, batch, basic("second"))
        assert answer.status_code == 207
        body = answer.json()
        assert [s["id"] for s in body["successes"]] == ["ok"]
        assert [e["id"] for e in body["errors"]] == ["late"]
        assert "tokens_in" in body["errors"][0]["message"]
