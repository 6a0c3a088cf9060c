"""``stacklens users erase`` and ``stacklens retention status`` against a served hub."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from stacklens.cli.main import main
from stacklens.server import Hub, create_app
from stacklens.testing import (
    ADMIN_KEY,
    SEED_RETENTION,
    ManualClock,
    free_port,
    hub_config,
    wait_until,
)
from stacklens.testing.dataset import NOW_NS, events


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Hub, str]]:
    hub = Hub(hub_config(tmp_path / "data", **SEED_RETENTION), clock=ManualClock(NOW_NS))
    hub.bootstrap_admin()
    app = create_app(hub)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=20)
    url = f"http://127.0.0.1:{port}"
    httpx.post(f"{url}/v1/events", json=events(), headers={"X-API-Key": ADMIN_KEY})
    hub.flush()
    try:
        yield hub, url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_users_erase(served: tuple[Hub, str]) -> None:
    hub, url = served
    alice = hub.redactor.pseudonymize_user("alice")
    result = _run("users", "erase", "alice", "--url", url, "--key", ADMIN_KEY)
    assert result.exit_code == 0, result.output
    assert f"erased {alice}: events 11, session_summaries 1, spool 0" in result.output
    assert "billing records anonymized 3" in result.output
    users = {r[0] for r in hub.store.fetch("SELECT DISTINCT user_id FROM events").rows}
    assert alice not in users and hub.redactor.pseudonymize_user("bob") in users
    again = _run("users", "erase", alice, "--url", url, "--key", ADMIN_KEY, "--json")
    assert json.loads(again.output)["removed"]["events"] == 0
    _, read_key = hub.keyring.create("read")
    refused = CliRunner().invoke(main, ["users", "erase", "bob", "--url", url, "--key", read_key])
    assert refused.exit_code != 0 and "403" in refused.output
    assert len(hub.eraser.audit.list()) == 2


def test_retention_status(served: tuple[Hub, str]) -> None:
    _, url = served
    result = _run("retention", "status", "--url", url, "--key", ADMIN_KEY)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["TIER", "PERIOD", "OLDEST", "BYTES", "NEXT", "DROP"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["events"][1:3] == ["7d", "2026-01-10T10:00:00Z"]
    assert rows["events"][4] == "2026-01-18T00:05:00Z"
    assert rows["billing"][1] == "2555d"
    document = json.loads(_run("retention", "status", "--url", url, "--key", ADMIN_KEY,
                               "--json").output)  # fmt: skip
    assert [t["tier"] for t in document["tiers"]] == ["events", "rollups", "sessions", "billing"]
