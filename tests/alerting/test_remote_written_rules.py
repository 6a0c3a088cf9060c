"""Seed 003's GPU rules and seed 002's HighMemoryUsage (the packaged defaults) fire from
series remote-written by Prometheus: samples posted to ``/prometheus/api/v1/write`` on an
in-process hub, loaded, and judged by the real evaluator on a manual clock. A series that
ended (Prometheus's stale marker) stops counting at once, as in Prometheus."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from stacklens.alerting.defaults import default_rules
from stacklens.alerting.evaluator import Evaluator
from stacklens.alerting.state import Alert, AlertState
from stacklens.testing import ManualClock, in_process_hub
from stacklens.testing.remote_write import HEADERS, STALE_NAN, Series, write_body

NOW_NS = 1_796_000_000 * 10**9
GIB = 2**30
MIB = 2**20
WATCHED = {"HighGPUUtilization", "HighGPUTemperature", "HighGPUMemory", "HighMemoryUsage"}


class RecordingNotify:
    def __init__(self) -> None:
        self.calls: list[list[Alert]] = []

    def __call__(self, alerts: Sequence[Alert]) -> None:
        self.calls.append(list(alerts))


def _gpu(name: str, gpu: str) -> dict[str, str]:
    return {"__name__": name, "job": "gpu-exporter", "instance": "node-1:9835", "gpu_id": gpu}


def _container(name: str, container: str) -> dict[str, str]:
    return {"__name__": name, "job": "cadvisor", "instance": "node-1:8080", "name": container}


def scrape(ms: int, *, gpu2_ended: bool) -> list[Series]:
    """One scrape's samples, as Prometheus remote-writes them."""
    series: list[Series] = [
        (_gpu("gpu_utilization_percent", "0"), [(ms, 95.0)]),  # > 90: fires
        (_gpu("gpu_utilization_percent", "1"), [(ms, 50.0)]),
        # gpu 2 is at 99% until its exporter stops exposing it: then one stale marker
        (_gpu("gpu_utilization_percent", "2"), [(ms, STALE_NAN if gpu2_ended else 99.0)]),
        (_gpu("gpu_temperature_celsius", "0"), [(ms, 86.0)]),  # > 85: fires
        (_gpu("gpu_temperature_celsius", "1"), [(ms, 80.0)]),
        (_gpu("gpu_memory_used_bytes", "0"), [(ms, 7.5 * GIB)]),  # 7.5 / 8 = 0.9375: fires
        (_gpu("gpu_memory_total_bytes", "0"), [(ms, 8.0 * GIB)]),
        (_gpu("gpu_memory_used_bytes", "1"), [(ms, 4.0 * GIB)]),  # 0.5
        (_gpu("gpu_memory_total_bytes", "1"), [(ms, 8.0 * GIB)]),
        # seed 002: container_memory_usage_bytes{name="osmen-gateway"} / limit > 0.9
        (_container("container_memory_usage_bytes", "osmen-gateway"), [(ms, 950.0 * MIB)]),
        (_container("container_spec_memory_limit_bytes", "osmen-gateway"), [(ms, 1000.0 * MIB)]),
        (_container("container_memory_usage_bytes", "postgres"), [(ms, 100.0 * MIB)]),
        (_container("container_spec_memory_limit_bytes", "postgres"), [(ms, 1000.0 * MIB)]),
    ]
    return series


def test_seed_rules_fire_from_remote_written_series(tmp_path: Path) -> None:
    clock = ManualClock(NOW_NS)
    with in_process_hub(tmp_path / "d", clock=clock, loader_interval_s=3600) as (hub, client):
        hub.metrics_loader.stop()
        _, key = hub.keyring.create("ingest", stack="gpu-farm")
        notify = RecordingNotify()
        evaluator = Evaluator(
            default_rules(), reader=hub.store, metadata=hub.metadata, notify=notify, clock=clock
        )
        # Prometheus scraping every 30 s for 5.5 minutes; the evaluator ticks after each.
        for step in range(12):
            ms = clock() // 1_000_000
            body = write_body(scrape(ms, gpu2_ended=step >= 4))
            response = client.post(
                "/prometheus/api/v1/write", content=body, headers={**HEADERS, "X-API-Key": key}
            )
            assert response.status_code == 204, response.text
            hub.metrics_loader.run_once()
            evaluator.tick()
            if step == 3:  # gpu 2 at 99% for 90 s: pending, not yet firing (for: 5m)
                pending = {
                    (a.labels["alertname"], a.labels.get("gpu_id"))
                    for a in evaluator.all_alerts()
                    if a.state == AlertState.PENDING
                }
                assert ("HighGPUUtilization", "2") in pending
            clock.advance(30)
        firing = {
            a.labels["alertname"]: a
            for a in evaluator.all_alerts()
            if a.state == AlertState.FIRING and a.labels["alertname"] in WATCHED
        }
        # 5.5 minutes true > for: 5m; each for exactly the one hot series
        assert set(firing) == WATCHED
        for name in ("HighGPUUtilization", "HighGPUTemperature", "HighGPUMemory"):
            assert firing[name].labels["gpu_id"] == "0"
            assert firing[name].labels["stack_name"] == "gpu-farm"
        assert firing["HighGPUUtilization"].value == 95.0
        assert firing["HighGPUTemperature"].value == 86.0
        assert firing["HighGPUMemory"].value == 7.5 / 8
        memory = firing["HighMemoryUsage"]
        assert memory.labels["name"] == "osmen-gateway"
        assert memory.labels["service"] == "cadvisor"  # the job label
        assert memory.value == 950 / 1000
        # gpu 2 ended with a stale marker 3.5 minutes ago: no longer pending nor firing
        # (its 99% samples are still inside the 5 minute window)
        live = {
            (a.labels["alertname"], a.labels.get("gpu_id"))
            for a in evaluator.all_alerts()
            if a.state in (AlertState.PENDING, AlertState.FIRING)
        }
        assert ("HighGPUUtilization", "2") not in live
        assert ("HighGPUUtilization", "1") not in live
        assert ("HighGPUTemperature", "1") not in live
        assert ("HighGPUMemory", "1") not in live
        names = {a.labels.get("name") for a in evaluator.all_alerts()}
        assert "postgres" not in names
        sent = {a.labels["alertname"] for a in notify.calls[-1] if a.state == AlertState.FIRING}
        assert sent >= WATCHED
