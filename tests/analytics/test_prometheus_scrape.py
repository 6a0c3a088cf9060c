"""A real Prometheus (Debian ``prometheus``) scrapes the hub on loopback; PromQL over the
scraped series gives the hand-computed figures."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

import stacklens.api.analytics  # noqa: F401
from stacklens.server import Hub, create_app
from stacklens.testing import (
    ADMIN_KEY,
    ManualClock,
    free_port,
    hub_config,
    require_binary,
    wait_until,
)
from stacklens.testing.analytics import wire
from stacklens.testing.dataset import NOW_NS, events

PROMETHEUS = require_binary("prometheus", package="prometheus")
pytestmark = [pytest.mark.slow]


@pytest.fixture
def hub_url(tmp_path: Path) -> Iterator[str]:
    hub = Hub(hub_config(tmp_path / "data"), clock=ManualClock(NOW_NS))
    hub.bootstrap_admin()
    app = create_app(hub)
    wire(hub, app)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: server.started, timeout=20)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def prometheus(tmp_path: Path, hub_url: str) -> Iterator[str]:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: stacklens\n"
        f"    authorization: {{type: Bearer, credentials: {ADMIN_KEY}}}\n"
        "    static_configs:\n"
        f"      - targets: ['{hub_url.removeprefix('http://')}']\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(url), timeout=30, interval=0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def query(url: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def test_prometheus_scrapes_per_stack_series(hub_url: str, prometheus: str) -> None:
    with httpx.Client(base_url=hub_url, headers={"X-API-Key": ADMIN_KEY}) as client:
        assert client.post("/v1/events", json=events()).json()["accepted"] == 15
        # the loader runs every 50 ms; wait until the rollups show all 15 events
        wait_until(
            lambda: "stacklens_stack_events_total" in client.get("/metrics").text, timeout=20
        )
    tokens = "sum by (stack_name) (opencode_tokens_total)"

    def scraped() -> dict[str, float] | None:
        rows = {r["metric"]["stack_name"]: float(r["value"][1]) for r in query(prometheus, tokens)}
        return rows if len(rows) == 2 else None

    got = wait_until(scraped, timeout=30, interval=0.5)
    # alpha: in 1000+2000+100+300, out 500+1000+50+100, cache_read 200; beta: 4000+1000
    assert got == {"alpha": 5250.0, "beta": 5000.0}
    # all durations 1, 2, 3, 5, 7 s: 5 observations, rank 2.5 falls in (2, 5] holding
    # cumulative 2 → 4: 2 + (5 - 2) * (2.5 - 2) / (4 - 2) = 2.75
    [median] = query(
        prometheus,
        "histogram_quantile(0.5, sum by (le) (opencode_response_duration_seconds_bucket))",
    )
    assert float(median["value"][1]) == pytest.approx(2.75)
    [errors] = query(prometheus, 'opencode_errors_total{stack_name="alpha"}')
    assert float(errors["value"][1]) == 3
    up = {r["metric"]["stack_name"]: r["value"][1] for r in query(prometheus, "stacklens_stack_up")}
    assert up == {"alpha": "0", "beta": "1"}
