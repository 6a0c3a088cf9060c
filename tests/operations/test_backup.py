"""A backup taken while the hub runs (ingest going on) restores to a hub that answers the
same queries: events, usage, sessions, users (same pseudonyms), budgets and keys."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from stacklens.testing import HubProcess, wait_until
from stacklens.testing.web import console_seed_events

pytestmark = [pytest.mark.slow]
STACK = "acme-chat"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "stacklens.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 10**9))


def answers(client: httpx.Client, window: dict[str, str]) -> dict[str, Any]:
    """The same read queries, over a fixed window, on one stack."""
    paths = {
        "events": ("/api/v1/events", {"stack": STACK, "limit": 1000, **window}),
        "usage": ("/api/v1/usage", {"stack": STACK, "step": 3600, **window}),
        "sessions": ("/api/v1/sessions", {"stack": STACK, "limit": 500, **window}),
        "users": ("/api/v1/users", {"stack": STACK, **window}),
        "budgets": ("/api/v1/budgets", {}),
    }
    found = {}
    for name, (path, params) in paths.items():
        response = client.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
        found[name] = response.json()
    # A budget's projection moves with the clock; what was stored must not.
    found["budgets"] = [
        {k: b[k] for k in ("stack_name", "monthly_usd", "monthly_tokens", "used_usd")}
        for b in found["budgets"]["budgets"]
    ]
    return found


def test_backup_while_running_restores_to_the_same_answers(tmp_path: Path) -> None:
    now = time.time_ns()
    window = {"since": _rfc3339(now - 25 * 3600 * 10**9), "until": _rfc3339(now + 60 * 10**9)}
    # No configured hashing key: the hub generates secret.key, which the backup must carry
    # for a restored hub to pseudonymize users to the same ids.
    generated_key = {"STACKLENS_SECRET_KEY": ""}
    hub = HubProcess(tmp_path / "data", env=generated_key).start()
    writing = threading.Event()
    stop = threading.Event()
    try:
        events = [e for e in console_seed_events(now, count=1500) if e["stack_name"] == STACK]
        with hub.client() as client:
            assert client.post("/v1/events", json=events).status_code == 200
            assert (
                client.put(f"/api/v1/budgets/{STACK}", json={"monthly_usd": 250}).status_code == 200
            )

            def loaded() -> bool:
                got = client.get("/api/v1/events", params={"stack": STACK, "limit": 1000, **window})
                return len(got.json()["events"]) == min(len(events), 1000)

            wait_until(loaded, timeout=20)

            def writer() -> None:  # another stack keeps ingesting through the backup
                with hub.client() as live:
                    n = 0
                    while not stop.is_set():
                        n += 1
                        batch = [
                            {"timestamp": time.time_ns(), "stack_name": "live-writer",
                             "event_type": "heartbeat", "event_id": f"live-{n}-{i}"}
                            for i in range(50)
                        ]  # fmt: skip
                        assert live.post("/v1/events", json=batch).status_code == 200
                        writing.set()

            thread = threading.Thread(target=writer, daemon=True)
            thread.start()
            assert writing.wait(10)
            before = answers(client, window)
            taken = cli("backup", "--url", hub.url, env={"STACKLENS_API_KEY": hub.admin_key})
            assert taken.returncode == 0, taken.stderr
            backup_dir = Path(taken.stdout.strip().splitlines()[-1])
            stop.set()
            thread.join(timeout=10)
    finally:
        stop.set()
        hub.stop()

    assert sorted(p.name for p in backup_dir.iterdir()) == [
        "events.duckdb",
        "manifest.json",
        "metadata.sqlite",
        "secret.key",
    ]
    # A restore refuses a data directory that is not empty.
    refused = cli("restore", str(backup_dir), "--data-dir", str(tmp_path / "data"))
    assert refused.returncode != 0 and "not empty" in refused.stderr
    restored_dir = tmp_path / "restored"
    restored = cli("restore", str(backup_dir), "--data-dir", str(restored_dir))
    assert restored.returncode == 0, restored.stderr

    again = HubProcess(restored_dir, env=generated_key).start()
    try:
        with again.client() as client:  # the admin key is the restored metadata's
            after = answers(client, window)
    finally:
        again.stop()
    assert after == before
    assert len(after["events"]["events"]) > 100 and after["users"]  # not trivially equal
    assert after["budgets"][0]["monthly_usd"] == 250


def test_backup_needs_an_admin_key_for_all_stacks(tmp_path: Path) -> None:
    from stacklens.metadata import KeyRing, MetadataDB

    with HubProcess(tmp_path / "data") as hub:
        keys = KeyRing(MetadataDB.in_data_dir(tmp_path / "data"))
        _, bound_admin = keys.create("admin", stack="alpha", label="alpha admin")
        _, reader = keys.create("read", label="reader")
        for key, status in ((bound_admin, 403), (reader, 403), (None, 401)):
            headers = {"X-API-Key": key} if key else {}
            answer = httpx.post(f"{hub.url}/api/v1/backup", headers=headers)
            assert answer.status_code == status, answer.text
        assert not (tmp_path / "data" / "backups").exists()


def test_two_backups_in_the_same_millisecond_both_complete(tmp_path: Path) -> None:
    from stacklens.metadata import MetadataDB
    from stacklens.operations.backup import BackupSource, take_backup
    from stacklens.store.duckdb import DuckDBStore

    store = DuckDBStore(tmp_path / "events.duckdb")
    metadata = MetadataDB.in_data_dir(tmp_path)
    try:
        source = BackupSource(tmp_path, store, metadata, flush=lambda: None)
        frozen = 1_796_000_000_123_000_000
        first = take_backup(source, clock=lambda: frozen)
        second = take_backup(source, clock=lambda: frozen)
    finally:
        store.close()
        metadata.close()
    assert first != second
    assert first.name == "20261130T005320.123Z" and second.name == first.name + "-2"
    for done in (first, second):
        assert (done / "manifest.json").is_file() and (done / "events.duckdb").is_file()
    assert not list((tmp_path / "backups").glob("*.partial"))
