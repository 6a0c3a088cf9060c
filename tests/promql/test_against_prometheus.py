"""A real Prometheus (Debian ``prometheus``) scrapes the hub every second while known
traffic flows; the same PromQL asked of Prometheus and of the hub's
``/prometheus`` API agrees within what Prometheus's extrapolation past its newest scrape explains.

Why the answers can differ at all: Prometheus's samples are its scrapes (1 s apart,
at times of its own), the hub's are its 15 s grid. At an evaluation time ``T`` on the
hub's grid, with every series seeded at 0 (a zero-token, zero-cost call) before the
traffic, neither extrapolates at the start of a window (``rate`` extrapolates to a
zero value no further than where the series began); at the end the hub has a sample
at ``T`` exactly while Prometheus's newest is up to one scrape interval older and is
extrapolated by that much. So, for an increase ``B`` sampled by Prometheus over ``D``
seconds (its first to last sample in the window) whose newest sample is ``G`` seconds
before ``T``: ``|prom - hub| <= B x G / D``. ``G`` and ``D`` are read from Prometheus's
own samples: ``G`` is one scrape interval (1 s) on a quiet machine, but a loaded runner
delays scrapes, and a fixed 1 s bound then failed now and then.
Cumulative values (no ``rate``) agree exactly once Prometheus has scraped after the
last event.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

import stacklens.api.analytics  # noqa: F401
from stacklens.server import Hub, create_app
from stacklens.testing import ADMIN_KEY, free_port, hub_config, require_binary, wait_until
from stacklens.testing.analytics import wire

PROMETHEUS = require_binary("prometheus", package="prometheus")
pytestmark = [pytest.mark.slow]
SCRAPE_S = 1.0
GRID_S = 15


@pytest.fixture
def hub_url(tmp_path: Path) -> Iterator[str]:
    hub = Hub(hub_config(tmp_path / "data"))  # the real clock: Prometheus scrapes in it
    hub.bootstrap_admin()
    app = create_app(hub)
    wire(hub, app)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=20)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def prometheus(tmp_path: Path, hub_url: str) -> Iterator[str]:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {SCRAPE_S:g}s\n"
        "scrape_configs:\n  - job_name: stacklens\n"
        f"    authorization: {{type: Bearer, credentials: {ADMIN_KEY}}}\n"
        f"    static_configs:\n      - targets: ['{hub_url.removeprefix('http://')}']\n"
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


def ask(url: str, query: str, t: float, key: str | None = None) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(
        f"{url}/api/v1/query", params={"query": query, "time": f"{t:.3f}"}, headers=headers,
        timeout=10,
    )  # fmt: skip
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return {r["metric"].get("stack_name", ""): float(r["value"][1]) for r in body["data"]["result"]}


def newest_sample_lag(prometheus: str, t: float) -> float:
    """``G / D`` (module docstring), the worst over the token series: how far before
    ``t`` Prometheus's newest sample is, over the time its samples in the window span."""
    response = httpx.get(
        f"{prometheus}/api/v1/query",
        params={"query": "opencode_tokens_total[5m]", "time": f"{t:.3f}"},
        timeout=10,
    )
    response.raise_for_status()
    lags = []
    for series in response.json()["data"]["result"]:
        first, last = float(series["values"][0][0]), float(series["values"][-1][0])
        lags.append((t - last) / (last - first))
    assert lags, "Prometheus holds no token samples"
    return max(lags)


def call(i: int, stack: str, ts: float, tokens: int, duration_ms: float, cost: float) -> Any:
    return {
        "event_id": f"{stack}-{i}",
        "timestamp": int(ts * 1e9),
        "stack_name": stack,
        "session_id": f"s-{stack}",
        "event_type": "llm_call",
        "data": {
            "model": "gpt-4o-mini",
            "provider": "openai",
            "tokens_in": tokens,
            "tokens_out": 0,
            "duration_ms": duration_ms,
            "cost_usd": cost,
            "success": True,
        },
    }


def test_prometheus_and_the_hub_agree(hub_url: str, prometheus: str) -> None:
    client = httpx.Client(base_url=hub_url, headers={"X-API-Key": ADMIN_KEY}, timeout=10)
    seed_at = time.time()
    seeds = [call(0, s, seed_at, 0, 200.0, 0.0) for s in ("alpha", "beta")]
    assert client.post("/v1/events", json=seeds).status_code == 200
    wait_until(lambda: len(ask(prometheus, "opencode_tokens_total", time.time())) == 2, timeout=30)
    # the traffic comes after the hub's first grid sample of the seeds
    first_grid = (int(seed_at) // GRID_S + 1) * GRID_S
    wait_until(lambda: time.time() > first_grid + 1, timeout=GRID_S + 5, interval=0.2)
    # alpha: 10 calls of 100 tokens, 1.5 s, $0.25; beta: 5 calls of 300 tokens, 4 s, $1
    sent: list[Any] = []
    for i in range(1, 11):
        sent.append(call(i, "alpha", time.time(), 100, 1500.0, 0.25))
        if i % 2 == 0:
            sent.append(call(i, "beta", time.time(), 300, 4000.0, 1.0))
        assert (
            client.post("/v1/events", json=sent[-2:] if i % 2 == 0 else sent[-1:]).status_code
            == 200
        )
        time.sleep(0.3)
    last = time.time()
    wait_until(lambda: ask(hub_url + "/prometheus", "sum(opencode_tokens_total)", time.time(),
                           ADMIN_KEY) == {"": 2500.0}, timeout=20)  # fmt: skip
    t = float((int(last + 3) // GRID_S + 1) * GRID_S)  # on the hub's grid, 3 s after
    wait_until(lambda: time.time() > t + 3 * SCRAPE_S, timeout=GRID_S + 10, interval=0.2)
    hub = hub_url + "/prometheus"
    lag = newest_sample_lag(prometheus, t)

    def compare(query: str, expected: dict[str, float]) -> None:
        p, h = ask(prometheus, query, t), ask(hub, query, t, ADMIN_KEY)
        assert set(p) == set(h) == set(expected), (query, p, h)
        for stack, value in expected.items():
            # the hub's sample at T sees the whole increase exactly
            assert h[stack] == pytest.approx(value, rel=1e-9), (query, h)
            # Prometheus's newest sample is older than T, extrapolated by that much
            # (exactly: the bound is met with equality, so only rounding is allowed for)
            assert abs(p[stack] - h[stack]) <= value * (lag + 1e-6), (query, p, h, lag)

    compare(
        "sum by (stack_name) (rate(opencode_tokens_total[5m]))",
        {"alpha": 1000 / 300, "beta": 1500 / 300},
    )
    compare(
        'increase(opencode_tokens_total{direction="input"}[1h])',
        {"alpha": 1000.0, "beta": 1500.0},
    )
    compare("increase(stacklens_cost_usd_total[1h]) > 0", {"alpha": 2.5, "beta": 5.0})
    # cumulative, no rate: exact. alpha 0.2 s + 10 x 1.5 s (le 0.5: 1, le 2: 11): rank
    # 0.95 x 11 = 10.45 in (1, 2] holding 1 → 11: 1 + 1 x 9.45/10
    exact = (
        "histogram_quantile(0.95, sum by (le, stack_name) "
        "(opencode_response_duration_seconds_bucket))"
    )
    p, h = ask(prometheus, exact, t), ask(hub, exact, t, ADMIN_KEY)
    assert h == pytest.approx(p) and h["alpha"] == pytest.approx(1.945)
    # beta 0.2 s + 5 x 4 s: rank 5.7 in (2, 5] holding 1 → 6: 2 + 3 x 4.7/5
    assert h["beta"] == pytest.approx(2 + 3 * 4.7 / 5)
    # over rates (the seed rule's form): each bucket's rate is seeded at 0 or 1, so its
    # extrapolation differs by at most one scrape per span; the quantile stays in (1, 2]
    rule = (
        "histogram_quantile(0.95, sum by (le, stack_name) "
        "(rate(opencode_response_duration_seconds_bucket[5m])))"
    )
    p, h = ask(prometheus, rule, t), ask(hub, rule, t, ADMIN_KEY)
    # only the 10 calls of 1.5 s increase the buckets from le=2 up: all in (1, 2] → rank
    # 9.5 of 10 in (1, 2]: 1 + 0.95
    assert h["alpha"] == pytest.approx(1.95)
    assert abs(p["alpha"] - h["alpha"]) <= 1.0 * (lag + 1e-6) * 2
    errors = ask(hub, "rate(opencode_errors_total[5m]) > 0.1", t, ADMIN_KEY)
    assert errors == ask(prometheus, "rate(opencode_errors_total[5m]) > 0.1", t) == {}
