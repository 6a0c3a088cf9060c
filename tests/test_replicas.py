"""Two real hub processes on one real PostgreSQL share what lives in the metadata
database: a key revoked on one is refused by the other within 5 s (at once: keys are
not cached), a silence made on the standby mutes what the leader notifies, a budget
set on one is reported by the other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stacklens.metadata.db import MetadataDB
from stacklens.metadata.keys import KeyRing
from stacklens.metadata.stacks import StackRegistry
from stacklens.testing import HubProcess, wait_until
from stacklens.testing.postgres import PostgresServer
from stacklens.testing.replicas import WebhookSink, replica_env, write_failover_alerting
from stacklens.testing.web import csrf_of, sign_in_client

INTERVAL_S = 1.0


class Replicas:
    def __init__(self, url: str, leader: HubProcess, standby: HubProcess, sink: WebhookSink):
        self.url, self.leader, self.standby, self.sink = url, leader, standby, sink
        self.db = MetadataDB(url)  # the shared database, as an operator's tools see it


def role(hub: HubProcess) -> str:
    return str(httpx.get(f"{hub.url}/health", timeout=5).json()["checks"]["alerting"]["role"])


@pytest.fixture(scope="module")
def replicas(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    root = tmp_path_factory.mktemp("replicas")
    sink = WebhookSink()
    env = replica_env(url, write_failover_alerting(root / "conf", sink.url))
    hubs = []
    try:
        for replica in ("one", "two"):
            (root / replica).mkdir()
            hubs.append(HubProcess(root / replica / "data", env=env).start())
            if replica == "one":
                wait_until(lambda: role(hubs[0]) == "leader", timeout=10)
        pair = Replicas(url, hubs[0], hubs[1], sink)
        yield pair
        pair.db.close()
    finally:
        for hub in hubs:
            hub.stop()
        sink.close()
        postgres_server.drop_database(name)


def test_key_revoked_on_one_replica_is_refused_by_the_other(replicas: Replicas) -> None:
    keys = KeyRing(replicas.db)
    record, key = keys.create("read", label="to revoke")
    for hub in (replicas.leader, replicas.standby):
        with hub.client(key) as client:
            assert client.get("/api/v1/silences").status_code == 200
    # Revoked through the standby's console (an admin signed in there).
    with httpx.Client(base_url=replicas.standby.url, timeout=10) as console:
        assert sign_in_client(console, replicas.standby.admin_key).status_code == 303
        admin = console.get("/admin")
        [record] = [k for k in KeyRing(MetadataDB(replicas.url)).list() if k.label == "to revoke"]
        revoked = console.post(
            f"/admin/keys/{record.key_id}/revoke", data={"csrf": csrf_of(admin.text)}
        )
        assert revoked.status_code == 303
    done = time.monotonic()
    with replicas.leader.client(key) as client:
        refused = wait_until(
            lambda: client.get("/api/v1/silences").status_code == 401, timeout=5, interval=0.02
        )
    assert refused
    elapsed = time.monotonic() - done
    print(f"revoked key refused by the other replica after {elapsed * 1000:.0f} ms")
    assert elapsed <= 5.0
    with replicas.standby.client(key) as client:
        assert client.get("/api/v1/silences").status_code == 401


def test_budget_set_on_one_replica_is_reported_by_the_other(replicas: Replicas) -> None:
    with replicas.standby.client() as client:
        put = client.put("/api/v1/budgets/shared-stack", json={"monthly_usd": 123.5})
        assert put.status_code == 200, put.text
    with replicas.leader.client() as client:
        budgets = client.get("/api/v1/budgets").json()["budgets"]
    [budget] = [b for b in budgets if b["stack_name"] == "shared-stack"]
    assert budget["monthly_usd"] == 123.5


def test_silence_made_on_the_standby_mutes_the_leaders_notifications(
    replicas: Replicas,
) -> None:
    assert (role(replicas.leader), role(replicas.standby)) == ("leader", "standby")
    with replicas.standby.client() as client:
        made = client.post(
            "/api/v1/silences",
            json={"matchers": ['stack_name="muted"'], "duration": "1h", "comment": "test"},
        )
        assert made.status_code == 201, made.text
    stacks = StackRegistry(replicas.db)
    health = f"{replicas.sink.url}/health"  # answers 503: the stack is down
    stacks.create("muted", health_url=health)
    stacks.create("loud", health_url=health)
    wait_until(lambda: replicas.sink.for_group("stack_name", "loud"), timeout=10)
    # Both fire on the leader (the standby shows them from the shared state, the
    # silence named on the muted one) ...
    with replicas.standby.client() as client:

        def firing() -> dict[str, Any]:
            alerts = client.get("/api/v1/alerts").json()["alerts"]
            found = {a["labels"]["stack_name"]: a for a in alerts if a["state"] == "firing"}
            return found if {"muted", "loud"} <= found.keys() else {}

        by_stack = wait_until(firing, timeout=10)
    assert by_stack["muted"]["silenced_by"] == [made.json()["silenceID"]]
    assert by_stack["loud"]["silenced_by"] == []
    # ... and over several more evaluations only the unsilenced one was notified.
    time.sleep(3 * INTERVAL_S)
    assert replicas.sink.for_group("stack_name", "muted") == []
    assert len(replicas.sink.for_group("stack_name", "loud")) == 1


def test_graceful_stop_hands_over_without_resending(replicas: Replicas) -> None:
    """Last in this module: it stops the leader. SIGTERM drains the deliveries in flight,
    then releases the lock; the standby takes over within an interval and re-sends
    nothing (the log it loads has every delivery)."""
    delivered = len(replicas.sink.received)
    assert delivered >= 1
    replicas.leader.stop()
    stopped = time.monotonic()
    wait_until(lambda: role(replicas.standby) == "leader", timeout=10, interval=0.02)
    assert time.monotonic() - stopped <= 2 * INTERVAL_S
    time.sleep(3 * INTERVAL_S)
    assert len(replicas.sink.received) == delivered
