"""A real Prometheus (Debian ``prometheus``) scrapes a real exporter of seed 002/003
infrastructure series (GPU gauges, cAdvisor container memory, a counter) and
remote-writes them to a hub on loopback with a stack-bound key as its bearer token.

Checked against Prometheus itself: every raw sample Prometheus holds for those series up
to an instant is in the hub's metric points with the same labels, timestamp and value;
instant queries at several instants (the newest sample within 5 minutes, none after a
stale marker) and seed 002's HighMemoryUsage ratio agree exactly. No tolerance: the hub
stores the very samples Prometheus stored. Prometheus reports no failed sample or
metadata request."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from stacklens.server import Hub, create_app
from stacklens.testing import free_port, hub_config, wait_until
from stacklens.testing.prometheus import InfraExporter, instant_query, running_prometheus

pytestmark = [pytest.mark.slow]

STACK = "gpu-farm"
GIB = 2**30
MIB = 2**20
NAMES = "gpu_.*|container_.*"
LOOKBACK_MS = 5 * 60 * 1000  # Prometheus's default query lookback


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[Hub, str]]:
    running = Hub(hub_config(tmp_path / "data"))
    running.bootstrap_admin()
    app = create_app(running)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=20)
    try:
        yield running, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def prometheus_config(target: str, hub_url: str, key: str) -> str:
    return f"""
global:
  scrape_interval: 1s
  external_labels: {{cluster: lab}}
scrape_configs:
  - job_name: infra
    static_configs: [{{targets: ['{target}']}}]
remote_write:
  - url: {hub_url}/prometheus/api/v1/write
    authorization: {{credentials: '{key}'}}
    queue_config: {{batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 1s}}
    metadata_config: {{send: true, send_interval: 1s}}
"""


def hub_points(hub: Hub) -> list[dict[str, Any]]:
    points = hub.store.query_metric_points(
        name=None, stacks=(STACK,), since_ns=None, until_ns=None, limit=100_000
    )
    return [p for p in points if p["name"].startswith(("gpu_", "container_"))]


def _attrs(point: dict[str, Any]) -> dict[str, str]:
    value = point["attributes"]
    return dict(json.loads(value) if isinstance(value, str) else value)


def series_key(name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def hub_series(hub: Hub) -> dict[Any, list[tuple[int, float | None, str]]]:
    """(name, labels without the external one) → [(ts ms, value, kind)] oldest first."""
    out: dict[Any, list[tuple[int, float | None, str]]] = {}
    for p in hub_points(hub):
        labels = _attrs(p)
        assert labels.pop("cluster") == "lab"  # the external label arrived with every series
        key = series_key(p["name"], labels)
        out.setdefault(key, []).append((p["timestamp_ns"] // 1_000_000, p.get("value"), p["kind"]))
    return {k: sorted(v) for k, v in out.items()}


def hub_instant(
    series: dict[Any, list[tuple[int, float | None, str]]], name: str, at_ms: int
) -> dict[Any, float]:
    """Prometheus's instant-vector rule over the hub's points: each series' newest sample
    at or before ``at_ms`` within the lookback, unless that sample is a stale marker."""
    out = {}
    for key, samples in series.items():
        if key[0] != name:
            continue
        before = [s for s in samples if at_ms - LOOKBACK_MS < s[0] <= at_ms]
        if before and before[-1][2] != "stale":
            value = before[-1][1]
            assert value is not None
            out[key[1]] = value
    return out


def prometheus_instant(url: str, name: str, at_ms: int) -> dict[Any, float]:
    rows = instant_query(url, name, at_ms / 1000)
    return {series_key(name, _without_name(r["metric"]))[1]: float(r["value"][1]) for r in rows}


def test_prometheus_remote_writes_what_it_scraped(tmp_path: Path, hub: tuple[Hub, str]) -> None:
    store_hub, hub_url = hub
    _, key = store_hub.keyring.create("ingest", stack=STACK, label="prometheus")
    with InfraExporter() as exporter:
        for gpu, util, temp, used in (("0", 93.5, 86.0, 7.5 * GIB), ("1", 40.0, 61.0, 2 * GIB)):
            exporter.set("gpu_utilization_percent", util, gpu_id=gpu)
            exporter.set("gpu_temperature_celsius", temp, gpu_id=gpu)
            exporter.set("gpu_memory_used_bytes", used, gpu_id=gpu)
            exporter.set("gpu_memory_total_bytes", 8 * GIB, gpu_id=gpu)
        for name, usage in (("osmen-gateway", 950 * MIB), ("postgres", 120 * MIB)):
            exporter.set("container_memory_usage_bytes", usage, name=name)
            exporter.set("container_spec_memory_limit_bytes", 1000 * MIB, name=name)
            exporter.received.labels(name=name).inc(4096)
        config = prometheus_config(exporter.target, hub_url, key)
        with running_prometheus(tmp_path / "prometheus", config) as prometheus:
            util = "gpu_utilization_percent"
            wait_until(
                lambda: sum(1 for p in hub_points(store_hub) if p["name"] == util) >= 6,
                timeout=60,
                interval=0.5,
            )
            first_ms = int(time.time() * 1000)
            exporter.set(util, 97.0, gpu_id="0")
            exporter.received.labels(name="postgres").inc(1000)
            exporter.remove(util, gpu_id="1")  # the next scrape writes its stale marker

            def stale_arrived() -> bool:
                return any(
                    p["kind"] == "stale" and _attrs(p).get("gpu_id") == "1"
                    for p in hub_points(store_hub)
                    if p["name"] == util
                )

            wait_until(stale_arrived, timeout=30, interval=0.5)
            time.sleep(2)  # a couple more scrapes after the stale marker
            until_ms = int(time.time() * 1000) - 500
            # Per series, remote write sends in order: once every live series has a sample
            # after until_ms, the hub holds all of their samples up to it.
            live = {
                series_key(r["metric"]["__name__"], _without_name(r["metric"]))
                for r in instant_query(prometheus, f'{{__name__=~"{NAMES}"}}', until_ms / 1000)
            }
            # gauges: gpu 0 x4, gpu 1 x3 (its utilization ended), containers 2 x2; the
            # counter's _total and prometheus_client's _created, for 2 containers
            assert len(live) == 7 + 4 + 2 + 2

            def caught_up() -> dict[Any, Any] | None:
                series = hub_series(store_hub)
                done = all(k in series and series[k][-1][0] > until_ms for k in live)
                return series if done else None

            series = wait_until(caught_up, timeout=30, interval=0.5)

            # 1. every raw sample Prometheus holds up to until_ms, as stored by the hub
            window_s = math.ceil((until_ms - first_ms) / 1000) + 120
            raw = httpx.get(
                f"{prometheus}/api/v1/query",
                params={"query": f'{{__name__=~"{NAMES}"}}[{window_s}s]', "time": until_ms / 1000},
                timeout=10,
            ).json()["data"]["result"]
            assert len(raw) == len(live) + 1  # gpu 1's utilization: samples before it ended
            compared = 0
            for row in raw:
                key_ = series_key(row["metric"]["__name__"], _without_name(row["metric"]))
                expected = [(round(float(t) * 1000), float(v)) for t, v in row["values"]]
                oldest = expected[0][0]
                got = [
                    (ts, value)
                    for ts, value, kind in series[key_]
                    if kind != "stale" and oldest <= ts <= until_ms
                ]
                assert got == expected, key_
                compared += len(expected)
            assert compared >= 3 * len(raw)

            # 2. instant queries at instants before, around and after the change
            for at_ms in (first_ms - 1500, first_ms + 500, until_ms - 1000, until_ms):
                for name in (util, "gpu_memory_used_bytes", "container_memory_usage_bytes"):
                    assert hub_instant(series, name, at_ms) == prometheus_instant(
                        prometheus, name, at_ms
                    ), (name, at_ms)
            now_util = hub_instant(series, util, until_ms)
            assert list(now_util.values()) == [97.0]  # gpu 1 ended, gpu 0 moved to 97

            # 3. seed 002's HighMemoryUsage expression, on Prometheus and over the hub
            ratio = (
                'container_memory_usage_bytes{name="osmen-gateway"}'
                ' / container_spec_memory_limit_bytes{name="osmen-gateway"}'
            )
            (answer,) = instant_query(prometheus, ratio, until_ms / 1000)
            usage = hub_instant(series, "container_memory_usage_bytes", until_ms)
            limit = hub_instant(series, "container_spec_memory_limit_bytes", until_ms)
            gateway = next(k for k in usage if ("name", "osmen-gateway") in k)
            assert float(answer["value"][1]) == usage[gateway] / limit[gateway] == 0.95

            # 4. the labels as Prometheus attached them, and the kinds
            gpu0 = next(p for p in hub_points(store_hub) if p["name"] == util)
            assert {"job", "instance"} <= set(_attrs(gpu0))
            assert _attrs(gpu0)["job"] == "infra" and gpu0["service"] == "infra"
            assert _attrs(gpu0)["instance"] == exporter.target
            counter = next(
                p
                for p in hub_points(store_hub)
                if p["name"] == "container_network_receive_bytes_total"
            )
            assert counter["kind"] == "sum" and counter["monotonic"] is True

            own = httpx.get(f"{prometheus}/metrics", timeout=5).text
            assert _metric(own, "prometheus_remote_storage_samples_failed_total") == 0
            assert _metric(own, "prometheus_remote_storage_metadata_failed_total") == 0
            assert _metric(own, "prometheus_remote_storage_samples_total") >= compared


def _without_name(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _metric(text: str, name: str) -> float:
    """The sum of a metric's samples in Prometheus's own exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")):
            total += float(line.rsplit(" ", 1)[1])
    return total
