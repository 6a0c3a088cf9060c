"""The event client against a fake hub (httpx.MockTransport): fields, privacy, outages,
overflow, refusal, the file route."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from stacklens.sdk import Client, context_scope
from stacklens.sdk.shipper import FileShipper
from stacklens.testing import wait_until
from stacklens.testing.secrets import SECRETS, encoded_forms, secret_events

FakeHub = Any
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


def make_client(hub: FakeHub, tmp_path: Path, **kwargs: Any) -> Client:
    options: dict[str, Any] = {
        "stack_name": "agent-1",
        "url": "http://hub",
        "api_key": "k",
        "spool_dir": tmp_path / "spool",
        "http_client": hub.client(),
        "close_at_exit": False,
        "registry": CollectorRegistry(),
        "environ": {},
        "spill_after_s": 0.0,
        "flush_interval_s": 0.05,
    }
    options.update(kwargs)
    return Client(**options)


def leaks(blob: bytes) -> list[str]:
    return [s[:12] for s in SECRETS if any(form in blob for form in encoded_forms(s))]


def spool_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((tmp_path / "spool").glob("*")))


def test_helpers_send_contract_events(fake_hub: FakeHub, tmp_path: Path) -> None:
    client = make_client(fake_hub, tmp_path, service="chat-api")
    before = time.time_ns()
    with context_scope(trace_id="t-1", user_id="alice"):
        client.session_start("s1", agent="build")
        client.message("s1", "user", "hello world", model="claude")
        client.tool_use("s1", "bash", args={"cmd": "ls"}, duration_ms=12.5, success=False)
        client.llm_call(
            "claude",
            provider="anthropic",
            tokens_in=100,
            tokens_out=20,
            duration_ms=800,
            cost_usd=0.01,
            session_id="s1",
        )
    client.error("tool crashed", exc=KeyError("k"), session_id="s1")
    client.heartbeat(version="1.2")
    client.feedback("s1", 0.9, comment="good")
    client.session_end("s1", duration_ms=1000)
    client.emit("log", message="free-form", level="info", custom={"a": 1})
    assert client.flush(5)
    events = fake_hub.events
    assert [e["event_type"] for e in events] == [
        "session_start",
        "message",
        "tool_use",
        "llm_call",
        "error",
        "heartbeat",
        "feedback",
        "session_end",
        "log",
    ]
    assert all(ULID.fullmatch(e["event_id"]) for e in events)
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(before <= e["timestamp"] <= time.time_ns() for e in events)
    assert all(e["stack_name"] == "agent-1" and e["service"] == "chat-api" for e in events)
    start, message, tool, llm, error, heartbeat, feedback, _, log = events
    assert (start["trace_id"], start["user_id"]) == ("t-1", "alice")
    assert start["data"]["agent"] == "build"
    assert message["data"]["role"] == "user"
    assert message["data"]["content_length"] == 11
    assert tool["data"]["success"] is False
    assert tool["data"]["args"] == {"cmd": "ls"}
    assert llm["data"] == {
        "model": "claude",
        "provider": "anthropic",
        "tokens_in": 100,
        "tokens_out": 20,
        "duration_ms": 800,
        "cost_usd": 0.01,
        "success": True,
    }
    assert error["message"] == "tool crashed: 'k'"
    assert error["attributes"]["error_type"] == "KeyError"
    assert "trace_id" not in error  # emitted outside the scope
    assert heartbeat["attributes"] == {"version": "1.2"}
    assert feedback["data"] == {"score": 0.9, "comment": "good"}
    assert log["attributes"] == {"custom": {"a": 1}}
    client.close()


def test_metrics_are_recorded_by_the_sender(fake_hub: FakeHub, tmp_path: Path) -> None:
    registry = CollectorRegistry()
    client = make_client(fake_hub, tmp_path, registry=registry)
    client.session_start("s1")
    client.message("s1", "assistant", "hi", model="m", agent="a")
    client.tool_use("s1", "grep", success=False)
    client.llm_call(
        "m",
        provider="p",
        tokens_in=10,
        tokens_out=5,
        tokens_cache_read=3,
        duration_ms=1500,
        cost_usd=0.5,
    )
    assert client.flush(5)
    value = registry.get_sample_value
    s = {"stack_name": "agent-1"}
    assert value("opencode_sessions_total", s) == 1
    assert value("opencode_active_sessions", s) == 1
    assert (
        value("opencode_messages_total", {**s, "role": "assistant", "model": "m", "agent": "a"})
        == 1
    )
    assert value("opencode_tool_invocations_total", {**s, "tool": "grep", "success": "false"}) == 1
    assert value("opencode_tokens_total", {**s, "model": "m", "direction": "input"}) == 10
    assert value("opencode_tokens_total", {**s, "model": "m", "direction": "cache_read"}) == 3
    assert (
        value("opencode_llm_tokens_total", {**s, "provider": "p", "model": "m", "type": "output"})
        == 5
    )
    assert value("opencode_response_duration_seconds_sum", {**s, "model": "m"}) == 1.5
    assert value("opencode_llm_cost_dollars_total", {**s, "provider": "p", "model": "m"}) == 0.5
    client.close()


def test_secrets_are_scrubbed_on_the_wire(fake_hub: FakeHub, tmp_path: Path) -> None:
    client = make_client(fake_hub, tmp_path)
    for event in secret_events():
        fields = {k: v for k, v in event.items() if k not in ("event_type", "stack_name")}
        client.emit(event["event_type"], **fields)
    assert client.flush(10)
    assert len(fake_hub.events) == len(secret_events())
    wire = b"".join(json.dumps(e).encode() for e in fake_hub.events) + b"".join(
        r.content for r in fake_hub.requests
    )
    assert leaks(json.dumps(fake_hub.events).encode()) == []
    assert wire  # (gzip bodies cannot hold plaintext anyway; the decoded events are checked)
    message = next(e for e in fake_hub.events if e["event_id"] == "planted-004")
    assert "content" in message["data"]  # left for the hub to hash: no key here
    client.close()


def test_hash_key_hashes_content_client_side(fake_hub: FakeHub, tmp_path: Path) -> None:
    client = make_client(fake_hub, tmp_path, environ={"STACKLENS_HASH_KEY": "k" * 32})
    client.message("s", "user", "the prompt text")
    assert client.flush(5)
    data = fake_hub.events[0]["data"]
    assert "content" not in data
    assert re.fullmatch(r"[0-9a-f]{64}", data["content_hash"])
    assert (data["content_length"], data["word_count"]) == (15, 3)
    client.close()


def test_outage_spills_without_raw_content_and_resends_once(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    def down(request: httpx.Request, events: list[Any]) -> httpx.Response:
        raise httpx.ConnectError("refused")

    fake_hub.behaviour = down
    client = make_client(fake_hub, tmp_path)
    for index in range(200):
        client.message("s", "user", f"private prompt {index} password={SECRETS[0]}")
    for event in secret_events():
        client.emit(event["event_type"], **{k: v for k, v in event.items() if k != "event_type"})
    assert client.close(timeout=5) is False
    on_disk = spool_bytes(tmp_path)
    assert on_disk.count(b"\n") == 200 + len(secret_events())
    assert b"private prompt" not in on_disk
    assert b'"content"' not in on_disk
    assert leaks(on_disk) == []
    assert fake_hub.events == []

    fake_hub.behaviour = lambda request, events: None
    second = make_client(fake_hub, tmp_path)  # "the stack restarted"
    assert second.flush(10)
    ids = [e["event_id"] for e in fake_hub.events]
    assert len(ids) == 200 + len(secret_events()) == len(set(ids))
    assert list((tmp_path / "spool").glob("*")) == []
    spilled = next(e for e in fake_hub.events if e["event_type"] == "message")
    assert spilled["data"]["content_length"] > 0
    second.close()


def test_503_then_recovery_delivers_each_event_once(fake_hub: FakeHub, tmp_path: Path) -> None:
    answers = iter([503, 503])

    def flaky(request: httpx.Request, events: list[Any]) -> httpx.Response | None:
        status = next(answers, None)
        return None if status is None else httpx.Response(status, headers={"Retry-After": "0"})

    fake_hub.behaviour = flaky
    client = make_client(fake_hub, tmp_path, spill_after_s=60.0, max_backoff_s=0.2)
    for index in range(50):
        client.heartbeat(n=index)
    assert client.flush(10)
    assert sorted(e["attributes"]["n"] for e in fake_hub.events) == list(range(50))
    assert client.stats.failures == 2
    client.close()


def test_full_queue_spills_instead_of_blocking(fake_hub: FakeHub, tmp_path: Path) -> None:
    client = make_client(
        fake_hub, tmp_path, queue_size=10, batch_size=10_000, flush_interval_s=30.0
    )
    # An empty flush first: the sender's first pass is over and it sleeps out its 30 s
    # interval, so nothing drains the queue meanwhile (a pass mid-loop took up to 21).
    assert client.flush(10)
    for index in range(100):
        client.heartbeat(n=index)
    assert client.stats.spilled == 90  # the queue holds 10; the rest go to disk at once
    assert client.flush(10)
    assert sorted(e["attributes"]["n"] for e in fake_hub.events) == list(range(100))
    client.close()


def test_refused_key_stops_retrying_and_keeps_events(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.behaviour = lambda request, events: httpx.Response(401, json={"error": "bad key"})
    client = make_client(fake_hub, tmp_path)
    client.heartbeat()
    assert client.flush(5) is False
    client.heartbeat()
    client.heartbeat()
    assert client.flush(5) is False
    assert len(fake_hub.requests) == 1
    client.close()
    assert spool_bytes(tmp_path).count(b"\n") == 3


def test_emit_after_close_goes_to_the_spill(fake_hub: FakeHub, tmp_path: Path) -> None:
    client = make_client(fake_hub, tmp_path)
    client.close()
    client.heartbeat()
    assert spool_bytes(tmp_path).count(b"\n") == 1


def test_disabled_without_destination(tmp_path: Path) -> None:
    client = Client("s", environ={}, close_at_exit=False, registry=CollectorRegistry())
    assert not client.enabled
    client.heartbeat()
    assert client.flush(1)
    client.close()


def test_invalid_stack_name() -> None:
    with pytest.raises(ValueError, match="stack name"):
        Client("Not Valid", environ={}, close_at_exit=False)


def test_file_route_to_the_shipper(fake_hub: FakeHub, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    client = Client(
        "agent-1",
        environ={"STACKLENS_EVENTS_FILE": str(path)},
        close_at_exit=False,
        registry=CollectorRegistry(),
    )
    client.message("s1", "user", "secret plans")
    client.llm_call("m", tokens_in=1)
    assert client.flush(5)
    client.close()
    text = path.read_bytes()
    assert b"secret plans" not in text
    assert text.count(b"\n") == 2
    shipper = FileShipper(path, url="http://hub", api_key="k", client=fake_hub.client())
    assert shipper.ship_available() == 2
    assert [e["event_type"] for e in fake_hub.events] == ["message", "llm_call"]
    assert all(ULID.fullmatch(e["event_id"]) for e in fake_hub.events)


def test_close_at_exit_delivers(tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "events.jsonl"
    script = textwrap.dedent(f"""
        from stacklens.sdk import Client
        client = Client("agent-1", events_file={str(out)!r})
        for i in range(1000):
            client.heartbeat(n=i)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert out.read_bytes().count(b"\n") == 1000


def test_unknown_event_type_is_dropped_not_sent(fake_hub: FakeHub, tmp_path: Path) -> None:
    client = make_client(fake_hub, tmp_path)
    client.emit("not_a_type")
    client.heartbeat()
    assert client.flush(5)
    assert [e["event_type"] for e in fake_hub.events] == ["heartbeat"]
    wait_until(lambda: client.stats.dropped == 1, timeout=2)
    client.close()


def test_emit_inside_an_otel_span_carries_its_ids(fake_hub: FakeHub, tmp_path: Path) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("t")
    client = make_client(fake_hub, tmp_path)
    with tracer.start_as_current_span("agent-step") as span:
        client.llm_call("m")
        ctx = span.get_span_context()
    assert client.flush(5)
    event = fake_hub.events[0]
    assert event["trace_id"] == format(ctx.trace_id, "032x")
    assert event["span_id"] == format(ctx.span_id, "016x")
    client.close()


def test_get_client_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from stacklens.sdk import client as client_module

    monkeypatch.setattr(client_module, "_default", None)
    monkeypatch.setenv("STACK_NAME", "from-env")
    monkeypatch.setenv("STACKLENS_EVENTS_FILE", str(tmp_path / "e.jsonl"))
    default = client_module.get_client()
    assert client_module.get_client() is default
    assert default.stack_name == "from-env"
    default.heartbeat()
    default.close()
    assert b'"stack_name":"from-env"' in (tmp_path / "e.jsonl").read_bytes()


def test_a_forked_child_gets_its_own_sender(tmp_path: Path) -> None:
    import os

    path = tmp_path / "events.jsonl"
    client = Client(
        "agent-1", events_file=path, close_at_exit=False, registry=CollectorRegistry(), environ={}
    )
    client.heartbeat(who="parent")
    assert client.flush(5)
    pid = os.fork()
    if pid == 0:  # the child: exit without running pytest's teardown
        try:
            client.heartbeat(who="child")
            os._exit(0 if client.flush(5) else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    client.close()
    who = sorted(json.loads(line)["attributes"]["who"] for line in path.read_text().splitlines())
    assert who == ["child", "parent"]


def test_close_with_a_hanging_hub_keeps_events_on_disk(fake_hub: FakeHub, tmp_path: Path) -> None:
    import threading

    release = threading.Event()

    def hang(request: httpx.Request, events: list[Any]) -> httpx.Response:
        release.wait(20)
        return httpx.Response(503)

    fake_hub.behaviour = hang
    client = make_client(fake_hub, tmp_path, spill_after_s=60.0)
    try:
        for index in range(10):
            client.heartbeat(n=index)
        wait_until(lambda: fake_hub.requests, timeout=5)  # the sender is inside the post
        for index in range(10, 15):
            client.heartbeat(n=index)  # queued behind it
        started = time.monotonic()
        assert client.close(timeout=0.5) is False
        assert time.monotonic() - started < 10
    finally:
        release.set()
    # Let the hung post fail and the sender finish: it must not spill them again.
    thread = client._sender._thread
    assert thread is not None
    thread.join(timeout=30)
    seen = sorted(
        json.loads(line)["attributes"]["n"] for line in spool_bytes(tmp_path).splitlines()
    )
    assert seen == list(range(15))
