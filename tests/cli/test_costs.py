"""``stacklens prices backfill`` and ``stacklens billing export`` against a served hub."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

import stacklens.api.analytics  # noqa: F401
from stacklens.cli.costs import billing, prices
from stacklens.server import Hub, create_app
from stacklens.testing import ADMIN_KEY, ManualClock, free_port, hub_config, wait_until
from stacklens.testing.analytics import wire
from stacklens.testing.dataset import NOW_NS, TOTAL_COST, events


@pytest.fixture
def hub_url(tmp_path: Path) -> Iterator[str]:
    hub = Hub(hub_config(tmp_path / "data"), clock=ManualClock(NOW_NS))
    hub.bootstrap_admin()
    app = create_app(hub)
    wire(hub, app)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=20)
    url = f"http://127.0.0.1:{port}"
    httpx.post(f"{url}/v1/events", json=events(), headers={"X-API-Key": ADMIN_KEY})
    hub.flush()
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_billing_export_and_backfill_commands(hub_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "jan.csv"
    result = runner.invoke(
        billing,
        ["export", "--url", hub_url, "--key", ADMIN_KEY, "--month", "2026-01", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == 5  # header + 4 records
    cost_col = lines[0].split(",").index("cost_usd")
    assert sum(float(line.split(",")[cost_col] or 0) for line in lines[1:]) == pytest.approx(
        TOTAL_COST
    )
    result = runner.invoke(
        prices, ["backfill", "--url", hub_url, "--key", ADMIN_KEY, "--since", "2026-01-01"]
    )
    assert result.exit_code == 0, result.output
    assert "examined 4 events, repriced 0, still unpriced 1" in result.output
    bad = runner.invoke(
        billing, ["export", "--url", hub_url, "--key", ADMIN_KEY, "--month", "2026-1"]
    )
    assert bad.exit_code != 0 and "400" in bad.output


def test_budgets_commands_set_list_and_delete_through_the_hub(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from stacklens.testing import HubProcess

    with HubProcess(tmp_path / "data") as hub:
        env = {**os.environ, "STACKLENS_URL": hub.url, "STACKLENS_API_KEY": hub.admin_key}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "stacklens.cli", "budgets", *args],
                capture_output=True, text=True, env=env, timeout=60, check=False,
            )  # fmt: skip

        assert run("set", "john-dev", "--usd", "200").returncode == 0
        assert run("set", "jane-dev", "--tokens", "5000000").returncode == 0
        listed = run("list")
        assert listed.returncode == 0, listed.stderr
        rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
        assert "$200.00" in rows["john-dev"] and "5,000,000 tok" in rows["jane-dev"]
        with hub.client() as client:
            stored = {b["stack_name"]: b for b in client.get("/api/v1/budgets").json()["budgets"]}
        assert stored["john-dev"]["monthly_usd"] == 200
        assert run("delete", "john-dev").returncode == 0
        assert "john-dev" not in run("list").stdout
        refused = run("set", "john-dev")
        assert refused.returncode == 2 and "--usd" in refused.stderr
