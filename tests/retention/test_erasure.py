"""Erasure of one user's data through a real hub (``DELETE /api/v1/users/{user_id}``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from stacklens.retention.erasure import ERASED_USER
from stacklens.testing import SEED_RETENTION, ManualClock, in_process_hub
from stacklens.testing.analytics import wire
from stacklens.testing.dataset import NOW_NS, events


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    # A loader that never wakes by itself: what is not flushed stays in the spool.
    with in_process_hub(
        tmp_path / "data", clock=ManualClock(NOW_NS), loader_interval_s=3600, **SEED_RETENTION
    ) as (
        hub,
        client,
    ):
        wire(hub, client.app)
        assert client.post("/v1/events", json=events()).json()["accepted"] == 15
        hub.flush()
        yield hub, client


def _alice_log(n: int) -> dict[str, Any]:
    return {
        "event_id": f"log{n}",
        "timestamp": "2026-01-10T10:30:00Z",
        "stack_name": "alpha",
        "user_id": "alice",
        "event_type": "log",
        "level": "info",
        "message": "alice did a thing",
    }


def _billing(hub: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Billing amounts per (day, stack, model, provider, agent), users summed."""
    rows = hub.store.fetch(
        "SELECT day, stack_name, model, provider, agent, sum(calls), sum(tokens_in), "
        "sum(tokens_out), round(sum(cost_usd), 12), sum(unpriced) FROM billing_daily "
        "GROUP BY ALL ORDER BY ALL"
    ).rows
    return {row[:5]: row[5:] for row in rows}


def _users(hub: Any, table: str) -> dict[str, int]:
    rows = hub.store.fetch(f"SELECT user_id, count(*) FROM {table} GROUP BY 1").rows
    return {str(user): int(n) for user, n in rows}


def test_erasure_removes_one_user_everywhere_and_keeps_billing_amounts(
    hub: tuple[Any, Any],
) -> None:
    hub_, client = hub
    alice = hub_.redactor.pseudonymize_user("alice")
    bob = hub_.redactor.pseudonymize_user("bob")
    assert client.post("/v1/events", json=[_alice_log(1)]).status_code in (200, 202)
    hub_.flush()
    # Acknowledged, not yet loaded: in the spool when the erasure starts.
    assert client.post("/v1/events", json=[_alice_log(2)]).status_code in (200, 202)
    events_before = _users(hub_, "events")
    assert events_before[alice] == 12 and events_before[bob] == 4
    billing_before = _billing(hub_)
    assert alice in _users(hub_, "billing_daily")
    bob_export = client.get("/api/v1/users/bob/export").json()

    response = client.delete("/api/v1/users/alice")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == alice
    assert body["removed"] == {"events": 12, "session_summaries": 1, "spool": 1}
    assert body["billing_records_anonymized"] == 3

    assert alice not in _users(hub_, "events")
    assert alice not in _users(hub_, "session_summaries")
    assert alice not in _users(hub_, "billing_daily")
    assert _users(hub_, "events")[bob] == 4
    assert _users(hub_, "billing_daily")[ERASED_USER] == 3
    assert _billing(hub_) == billing_before  # every amount kept
    export = client.get("/api/v1/users/alice/export").json()
    assert export["events"] == [] and export["sessions"] == [] and export["billing"] == []
    assert client.get(f"/api/v1/users/{alice}/export").json()["events"] == []
    assert client.get("/api/v1/users/bob/export").json() == bob_export
    hub_.flush()  # nothing of alice comes back from the spool
    assert alice not in _users(hub_, "events")

    [record] = hub_.eraser.audit.list()
    assert record.audit_id == body["audit_id"]
    assert record.user_pseudonym == alice and record.key_id
    assert record.counts == {**body["removed"], "billing_records_anonymized": 3}
    assert record.at_ns == NOW_NS


def test_erasure_by_pseudonym_and_the_raw_id_never_reaches_the_audit(
    hub: tuple[Any, Any], tmp_path: Path
) -> None:
    hub_, client = hub
    alice = hub_.redactor.pseudonymize_user("alice")
    body = client.delete(f"/api/v1/users/{alice}").json()
    assert body["user_id"] == alice and body["removed"]["events"] == 11
    again = client.delete("/api/v1/users/alice").json()
    assert again["removed"] == {"events": 0, "session_summaries": 0, "spool": 0}
    planted = "planted-raw-user-7f3a9c"
    log = {**_alice_log(3), "user_id": planted}
    assert client.post("/v1/events", json=[log]).status_code in (200, 202)
    erased = client.delete(f"/api/v1/users/{planted}").json()
    assert erased["removed"]["spool"] == 1
    assert erased["user_id"] == hub_.redactor.pseudonymize_user(planted)
    records = hub_.eraser.audit.list()
    assert [r.user_pseudonym for r in records] == [alice, alice, erased["user_id"]]
    with hub_.metadata.engine.connect() as con:
        dumped = repr(con.execute(sa.text("SELECT * FROM erasures")).all())
    assert erased["user_id"] in dumped
    assert planted not in dumped and "alice" not in dumped.replace(alice, "")


def test_erasure_billing_fold_merges_into_an_existing_erased_record(
    hub: tuple[Any, Any],
) -> None:
    hub_, client = hub
    before = _billing(hub_)
    client.delete("/api/v1/users/alice")
    client.delete("/api/v1/users/bob")
    assert set(_users(hub_, "billing_daily")) == {ERASED_USER}
    assert _billing(hub_) == before


def test_erasure_needs_an_unbound_admin_key(hub: tuple[Any, Any]) -> None:
    hub_, client = hub
    for role, stack in (("admin", "alpha"), ("read", None), ("ingest", None)):
        _, key = hub_.keyring.create(role, stack=stack)
        response = client.delete("/api/v1/users/alice", headers={"X-API-Key": key})
        assert response.status_code == 403, (role, response.text)
    assert hub_.redactor.pseudonymize_user("alice") in _users(hub_, "events")
    assert hub_.eraser.audit.list() == []
