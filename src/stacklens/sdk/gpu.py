"""GPU metrics via NVML (``nvidia-ml-py``, the ``gpu`` extra), read at scrape time.

``register_gpu_collector(registry)`` adds a collector yielding seed 003's
``gpu_utilization_percent``, ``gpu_memory_used_bytes``, ``gpu_memory_total_bytes`` and
``gpu_temperature_celsius`` per GPU (label ``gpu_id``: the NVML index). Reading at scrape
time needs no thread and is never stale.

Without the package, a driver or a GPU it registers nothing, logs that once, and returns
``None``; a device that fails to answer during a scrape is skipped, so neither startup
nor ``/metrics`` ever fails because of NVML. The NVML module is injectable (``nvml=``)
so the collector is tested without a GPU.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stacklens.sdk.catalog import SPECS

__all__ = ["GpuCollector", "register_gpu_collector"]

_log = logging.getLogger("stacklens.sdk")
_NAMES = (
    "gpu_utilization_percent",
    "gpu_memory_used_bytes",
    "gpu_memory_total_bytes",
    "gpu_temperature_celsius",
)
_said_unavailable = threading.Event()


def _family(name: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, SPECS[name].help, labels=("stack_name", "gpu_id"))


class GpuCollector(Collector):
    """A Prometheus collector over an initialised NVML module."""

    def __init__(self, nvml: Any, *, stack_name: str | None = None) -> None:
        self.nvml = nvml
        self.stack_name = stack_name or os.environ.get("STACK_NAME") or "unknown"

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Names only: registration must not touch the driver.
        for name in _NAMES:
            yield _family(name)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {name: _family(name) for name in _NAMES}
        nvml = self.nvml
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except Exception:
            count = 0
        for index in range(count):
            labels = [self.stack_name, str(index)]
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
            except Exception:
                continue
            # Each reading on its own: a GPU without a temperature sensor (or a busy
            # driver) still reports the rest.
            try:
                rates = nvml.nvmlDeviceGetUtilizationRates(handle)
                families["gpu_utilization_percent"].add_metric(labels, float(rates.gpu))
            except Exception:
                pass
            try:
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                families["gpu_memory_used_bytes"].add_metric(labels, float(memory.used))
                families["gpu_memory_total_bytes"].add_metric(labels, float(memory.total))
            except Exception:
                pass
            try:
                sensor = getattr(nvml, "NVML_TEMPERATURE_GPU", 0)
                celsius = nvml.nvmlDeviceGetTemperature(handle, sensor)
                families["gpu_temperature_celsius"].add_metric(labels, float(celsius))
            except Exception:
                pass
        yield from families.values()


def _load_nvml() -> Any:
    import pynvml

    return pynvml


def register_gpu_collector(
    registry: CollectorRegistry | None = None,
    *,
    stack_name: str | None = None,
    nvml: Any = None,
) -> GpuCollector | None:
    """Register GPU metrics in ``registry``; ``None`` (and one log line) without GPUs."""
    try:
        module = nvml if nvml is not None else _load_nvml()
        module.nvmlInit()
        count = int(module.nvmlDeviceGetCount())
    except Exception as exc:  # ImportError, NVMLError_LibraryNotFound, DriverNotLoaded...
        _say_unavailable(f"{type(exc).__name__}: {exc}")
        return None
    if count == 0:
        _say_unavailable("no GPU found")
        return None
    collector = GpuCollector(module, stack_name=stack_name)
    (REGISTRY if registry is None else registry).register(collector)
    _log.info("stacklens: GPU metrics enabled for %d GPU(s)", count)
    return collector


def _say_unavailable(reason: str) -> None:
    if not _said_unavailable.is_set():
        _said_unavailable.set()
        _log.info("stacklens: GPU metrics disabled (%s)", reason)
