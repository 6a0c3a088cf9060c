"""GPU metrics: nothing (and one log line) without a GPU; readings with a fake NVML."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from stacklens.sdk import gpu
from stacklens.sdk.gpu import GpuCollector, register_gpu_collector


class FakeNvml:
    """The pynvml functions the collector calls, over two fake GPUs."""

    NVML_TEMPERATURE_GPU = 0

    def __init__(self, *, fail_temperature_of: int | None = None) -> None:
        self.initialised = False
        self.fail_temperature_of = fail_temperature_of

    def nvmlInit(self) -> None:
        self.initialised = True

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        return SimpleNamespace(gpu=40 + handle, memory=10)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(used=(handle + 1) * 2**30, total=24 * 2**30, free=0)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        if handle == self.fail_temperature_of:
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
        return 60 + handle


class NoDriver:
    def nvmlInit(self) -> None:
        raise OSError("NVML Shared Library Not Found")


@pytest.fixture(autouse=True)
def _fresh_notice() -> None:
    gpu._said_unavailable.clear()


def test_without_a_gpu_nothing_is_registered_and_it_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    with caplog.at_level(logging.INFO, logger="stacklens.sdk"):
        assert register_gpu_collector(registry) is None  # the real pynvml: no driver here
        assert register_gpu_collector(registry, nvml=NoDriver()) is None
    assert generate_latest(registry) == b""
    notices = [r for r in caplog.records if "GPU metrics disabled" in r.getMessage()]
    assert len(notices) == 1


def test_readings_from_nvml() -> None:
    registry = CollectorRegistry()
    fake = FakeNvml()
    collector = register_gpu_collector(registry, stack_name="gpu-box", nvml=fake)
    assert isinstance(collector, GpuCollector)
    assert fake.initialised
    value = registry.get_sample_value
    for gpu_id in ("0", "1"):
        labels = {"stack_name": "gpu-box", "gpu_id": gpu_id}
        assert value("gpu_utilization_percent", labels) == 40 + int(gpu_id)
        assert value("gpu_memory_used_bytes", labels) == (int(gpu_id) + 1) * 2**30
        assert value("gpu_memory_total_bytes", labels) == 24 * 2**30
        assert value("gpu_temperature_celsius", labels) == 60 + int(gpu_id)


def test_a_failing_reading_is_skipped_not_raised() -> None:
    collector = GpuCollector(FakeNvml(fail_temperature_of=1), stack_name="s")
    families = {family.name: family for family in collector.collect()}
    assert [s.labels["gpu_id"] for s in families["gpu_temperature_celsius"].samples] == ["0"]
    assert len(families["gpu_utilization_percent"].samples) == 2


def test_a_broken_driver_during_scrape_yields_empty_families() -> None:
    broken = SimpleNamespace(nvmlDeviceGetCount=lambda: (_ for _ in ()).throw(OSError("gone")))
    families = list(GpuCollector(broken, stack_name="s").collect())
    assert [f.name for f in families] == [
        "gpu_utilization_percent",
        "gpu_memory_used_bytes",
        "gpu_memory_total_bytes",
        "gpu_temperature_celsius",
    ]
    assert all(not f.samples for f in families)
