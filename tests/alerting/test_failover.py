"""Two real hub processes on one real PostgreSQL, each with its own data dir, spool and
DuckDB file: the alert engine runs on one; ``kill -9`` it while a notification is in
flight and the other takes over within two evaluation intervals, re-sends that one
notification (same ``Idempotency-Key``) and nothing already delivered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stacklens.metadata.db import MetadataDB
from stacklens.metadata.stacks import StackRegistry
from stacklens.testing import HubProcess, wait_until
from stacklens.testing.replicas import WebhookSink, replica_env, write_failover_alerting

INTERVAL_S = 1.0


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    receiver = WebhookSink()
    yield receiver
    receiver.close()


def role(hub: HubProcess) -> str | None:
    try:
        body = httpx.get(f"{hub.url}/health", timeout=2.0).json()
    except httpx.HTTPError:
        return None
    return str(body["checks"]["alerting"]["role"])


def leader_gauge(hub: HubProcess) -> float:
    with hub.client() as client:
        text = client.get("/metrics").text
    [line] = [ln for ln in text.splitlines() if ln.startswith("stacklens_alerting_leader ")]
    return float(line.split()[1])


def test_kill_leader_mid_delivery_new_leader_delivers_it_once(
    tmp_path: Path, postgres_url: str, sink: WebhookSink
) -> None:
    files = write_failover_alerting(tmp_path / "conf", sink.url, interval=f"{INTERVAL_S:g}s")
    env = replica_env(postgres_url, files)
    db = MetadataDB(postgres_url)
    stacks = StackRegistry(db)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    a = HubProcess(tmp_path / "a" / "data", env=env)
    b = HubProcess(tmp_path / "b" / "data", env=env)
    try:
        a.start()
        wait_until(lambda: role(a) == "leader", timeout=10)
        b.start()
        time.sleep(2 * INTERVAL_S)  # b has tried the lock at least once
        assert role(b) == "standby"
        assert (leader_gauge(a), leader_gauge(b)) == (1.0, 0.0)

        # 1. Delivered before the crash: the leader records it in the shared log.
        stacks.create("first", health_url=f"{sink.url}/health")
        wait_until(lambda: sink.for_group("stack_name", "first"), timeout=10)
        # The standby serves the alerts the leader stored.
        with b.client() as client:
            listed = wait_until(lambda: client.get("/api/v1/alerts").json()["alerts"], timeout=5)
        assert [(x["labels"]["stack_name"], x["state"]) for x in listed] == [("first", "firing")]

        # 2. In flight at the crash: the receiver holds it; the leader dies mid-send.
        sink.hang_next("stack_name", "second")
        stacks.create("second", health_url=f"{sink.url}/health")
        assert sink.hung.wait(10), "the leader never sent the second notification"
        a.kill()
        killed = time.monotonic()

        wait_until(lambda: role(b) == "leader", timeout=10, interval=0.02)
        took_over_s = time.monotonic() - killed
        assert took_over_s <= 2 * INTERVAL_S, f"takeover took {took_over_s:.2f}s"
        assert leader_gauge(b) == 1.0

        resent = wait_until(lambda: len(sink.for_group("stack_name", "second")) >= 2, timeout=10)
        assert resent
        redelivered_s = sink.for_group("stack_name", "second")[1].at - killed
        sink.release()
        print(f"takeover {took_over_s:.2f}s, re-delivery {redelivered_s:.2f}s after kill -9")
        # Several group intervals more: nothing else may arrive.
        time.sleep(4 * INTERVAL_S)
    finally:
        sink.release()
        b.stop()
        a.kill()
        db.close()

    first, second = sink.for_group("stack_name", "first"), sink.for_group("stack_name", "second")
    # Delivered once before the crash and not again by the new leader.
    assert len(first) == 1
    # The in-flight one: the dead leader's attempt and the new leader's, one key.
    assert len(second) == 2
    assert second[0].key == second[1].key != ""
    assert first[0].key != second[0].key
    # An idempotent receiver acts on each notification exactly once.
    assert len(sink.received) == 3
    assert len(sink.unique_keys()) == 2
    assert redelivered_s <= 2 * INTERVAL_S + 1.0, f"re-delivery took {redelivered_s:.2f}s"
