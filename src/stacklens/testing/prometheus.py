"""A real Prometheus for tests, and a small real exporter for it to scrape.

:func:`running_prometheus` starts the Debian ``prometheus`` binary on loopback with a
given configuration and stops it after; :class:`InfraExporter` serves, over real HTTP,
the infrastructure series seeds 002 and 003 name (GPU gauges as a GPU exporter labels
them by ``gpu_id``, cAdvisor's container memory by container ``name``), with values a
test sets.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from stacklens.testing import free_port, require_binary, wait_until

__all__ = ["InfraExporter", "instant_query", "running_prometheus"]

#: (metric, help, label names)
_GAUGES = (
    ("gpu_utilization_percent", "GPU utilization", ("gpu_id",)),
    ("gpu_memory_used_bytes", "GPU memory used", ("gpu_id",)),
    ("gpu_memory_total_bytes", "GPU memory total", ("gpu_id",)),
    ("gpu_temperature_celsius", "GPU temperature", ("gpu_id",)),
    ("container_memory_usage_bytes", "Container memory usage", ("name",)),
    ("container_spec_memory_limit_bytes", "Container memory limit", ("name",)),
)


class InfraExporter:
    """GPU and container gauges (and one counter) on ``127.0.0.1:<port>/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.gauges = {
            name: Gauge(name, text, labels, registry=self.registry)
            for name, text, labels in _GAUGES
        }
        self.received = Counter(
            "container_network_receive_bytes",
            "Bytes received",
            ("name",),
            registry=self.registry,
        )
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self._server: Any = None

    def set(self, metric: str, value: float, **labels: str) -> None:
        self.gauges[metric].labels(**labels).set(value)

    def remove(self, metric: str, **labels: str) -> None:
        """Stop exposing one series (Prometheus then writes its stale marker)."""
        self.gauges[metric].remove(*labels.values())

    def __enter__(self) -> InfraExporter:
        self._server, _ = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        return self

    def __exit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def running_prometheus(workdir: Path, config: str) -> Iterator[str]:
    """Prometheus with ``config`` (YAML text), its URL while running."""
    binary = require_binary("prometheus", package="prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "prometheus.yml"
    config_file.write_text(config)
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
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


def instant_query(url: str, promql: str, at_s: float | None = None) -> list[dict[str, Any]]:
    """``/api/v1/query`` on Prometheus: the result list."""
    params: dict[str, Any] = {"query": promql}
    if at_s is not None:
        params["time"] = f"{at_s:.3f}"
    response = httpx.get(f"{url}/api/v1/query", params=params, timeout=10)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result
