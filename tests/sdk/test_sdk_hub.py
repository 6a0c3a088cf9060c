"""Against a real hub (``stacklens serve`` on loopback): round trip, file route, outage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prometheus_client import CollectorRegistry

from stacklens.sdk import Client, context_scope
from stacklens.sdk.shipper import FileShipper
from stacklens.testing import HubProcess, wait_until
from stacklens.testing.secrets import SECRETS, encoded_forms


def query(hub: HubProcess, stack: str, count: int) -> list[dict[str, Any]]:
    with hub.client() as http:

        def ready() -> list[dict[str, Any]] | None:
            events = http.get("/api/v1/events", params={"stack": stack, "limit": 1000}).json()
            return events["events"] if len(events["events"]) >= count else None

        result: list[dict[str, Any]] = wait_until(ready, timeout=10)
        return result


def test_round_trip(hub: HubProcess, tmp_path: Path) -> None:
    client = Client(
        "roundtrip",
        hub.url,
        hub.admin_key,
        service="agent",
        spool_dir=tmp_path / "s",
        close_at_exit=False,
        registry=CollectorRegistry(),
        environ={},
    )
    before = time.time_ns()
    with context_scope(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", user_id="alice"):
        client.session_start("sess-1", agent="build")
        client.message("sess-1", "user", f"deploy with token {SECRETS[3]} please", model="claude")
        client.llm_call(
            "claude-sonnet",
            provider="anthropic",
            tokens_in=1200,
            tokens_out=300,
            duration_ms=2100.5,
            cost_usd=0.0081,
            session_id="sess-1",
        )
        client.tool_use(
            "sess-1",
            "Bash",
            args={"cmd": "ls"},
            command="ls -la /home/alice/secret-project",
            duration_ms=15,
        )
    client.session_end("sess-1", duration_ms=5000)
    assert client.flush(10)
    client.close()
    events = {e["event_type"]: e for e in query(hub, "roundtrip", 5)}
    assert set(events) == {"session_start", "message", "llm_call", "tool_use", "session_end"}
    for event in events.values():
        assert event["stack_name"] == "roundtrip"
        assert event["session_id"] == "sess-1"
        assert event["service"] == "agent"
        assert before <= event["timestamp_ns"] <= time.time_ns()
    start, message, llm, tool = (
        events[k] for k in ("session_start", "message", "llm_call", "tool_use")
    )
    assert start["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert start["user_id"].startswith("u_")  # pseudonymized by the hub
    assert start["agent"] == "build"
    assert message["role"] == "user"
    assert len(message["content_hash"]) == 64
    assert message["content_length"] > 0
    assert "content" not in message
    assert (llm["model"], llm["provider"], llm["tokens_in"], llm["tokens_out"]) == (
        "claude-sonnet",
        "anthropic",
        1200,
        300,
    )
    assert llm["duration_ms"] == 2100.5
    assert llm["cost_usd"] == pytest.approx(0.0081)
    assert tool["tool"] == "Bash"
    assert tool["command"] == "ls"
    assert len(tool["args_hash"]) == 64
    blob = json.dumps(list(events.values())).encode()
    assert not any(form in blob for form in encoded_forms(SECRETS[3]))


def test_file_route_with_stacklens_send(hub: HubProcess, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    client = Client(
        "sidecar", events_file=path, close_at_exit=False, registry=CollectorRegistry(), environ={}
    )
    for index in range(25):
        client.heartbeat(seq=index)
    client.close()
    shipper = FileShipper(path, url=hub.url, api_key=hub.admin_key)
    assert shipper.ship_available() == 25
    assert shipper.ship_available() == 0  # positions saved: nothing twice
    events = query(hub, "sidecar", 25)
    assert sorted(e["attributes"]["seq"] for e in events) == list(range(25))


EMITTER = textwrap.dedent("""
    import json, sys, time
    from stacklens.sdk import Client
    count = int(sys.argv[1])
    client = Client(max_backoff_s=2.0)
    started = time.perf_counter()
    for i in range(count):
        kind = i % 3
        if kind == 0:
            client.llm_call("m", provider="p", tokens_in=i, tokens_out=1, seq=i)
        elif kind == 1:
            client.message("s-%d" % (i // 100), "user", "prompt number %d" % i, seq=i)
        else:
            client.tool_use("s-%d" % (i // 100), "Bash", command="ls -la", seq=i)
    emitted = time.perf_counter() - started
    delivered = client.close(timeout=10)
    print(json.dumps({"emit_s": emitted, "delivered": delivered, "spilled": client.stats.spilled}))
""")

RESENDER = textwrap.dedent("""
    import json, time
    from stacklens.sdk import Client
    started = time.perf_counter()
    client = Client(max_backoff_s=2.0)
    delivered = client.flush(timeout=90)
    took = time.perf_counter() - started
    stats = client.stats
    client.close()
    print(json.dumps({"delivered": delivered, "resent": stats.resent, "accepted": stats.accepted,
                      "failures": stats.failures, "seconds": took}))
""")


@pytest.mark.slow
def test_outage_and_restart_deliver_every_event_exactly_once(tmp_path: Path) -> None:
    count = 10_000
    hub = HubProcess(tmp_path / "data")  # not started: the hub is down
    spool = tmp_path / "spool"
    env = {
        **os.environ,
        "STACK_NAME": "outage",
        "STACKLENS_URL": hub.url,
        "STACKLENS_API_KEY": hub.admin_key,
        "STACKLENS_SPOOL_DIR": str(spool),
    }
    env.pop("STACKLENS_HASH_KEY", None)

    first = subprocess.run(
        [sys.executable, "-c", EMITTER, str(count)],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    emitted = json.loads(first.stdout)
    assert emitted["delivered"] is False
    assert emitted["spilled"] == count
    spilled = b"".join(p.read_bytes() for p in spool.iterdir())
    assert spilled.count(b"\n") == count
    assert b"prompt number" not in spilled  # no raw content on disk

    # The stack restarts while the hub is still down, then the hub comes back.
    second = subprocess.Popen(
        [sys.executable, "-c", RESENDER], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        time.sleep(1.0)
        hub.start()
        out, err = second.communicate(timeout=100)
        assert second.returncode == 0, err.decode()[-2000:]
        resent = json.loads(out)
        assert resent["delivered"] is True, resent
        assert resent["resent"] == count
        assert resent["failures"] >= 1  # it did start during the outage
        assert list(spool.iterdir()) == []
    finally:
        if second.poll() is None:
            second.kill()
        hub.stop()  # graceful: the loader drains into the store

    con = duckdb.connect(str(tmp_path / "data" / "events.duckdb"), read_only=True)
    try:
        total, ids, seqs = con.execute(
            "SELECT count(*), count(DISTINCT event_id), "
            "count(DISTINCT json_extract_string(attributes, '$.seq')) "
            "FROM events WHERE stack_name = 'outage'"
        ).fetchone() or (0, 0, 0)
    finally:
        con.close()
    print(
        f"outage: emit {emitted['emit_s'] * 1e6 / count:.2f} us/event in the caller "
        f"(helpers, sender thread running), resend {resent['seconds']:.2f} s "
        f"after restart, {resent['failures']} failed attempts"
    )
    assert (total, ids, seqs) == (count, count, count)
