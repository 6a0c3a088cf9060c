"""``/metrics`` gauges of retention, computed at scrape time:

``stacklens_retention_oldest_timestamp_seconds{tier}``  the oldest data kept (absent
                                                        for an empty tier)
``stacklens_storage_bytes{tier}``                       bytes on disk

One read of :class:`~stacklens.retention.status.RetentionView` serves every scrape
within ``cache_s`` (the sizes walk the store's block lists; several Prometheus
servers scraping one hub should not each pay for it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from stacklens.retention.status import TierStatus

__all__ = ["RetentionCollector"]


class RetentionCollector(Collector):
    """Register with ``registry.register(RetentionCollector(view.status))``."""

    def __init__(
        self,
        status: Callable[[], list[TierStatus]],
        *,
        cache_s: float = 15.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._status = status
        self.cache_s = cache_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, list[TierStatus]] | None = None

    def _tiers(self) -> list[TierStatus]:
        with self._lock:
            now = self._monotonic()
            if self._cached is None or now - self._cached[0] >= self.cache_s:
                self._cached = (now, self._status())
            return self._cached[1]

    def collect(self) -> Iterator[Metric]:
        tiers = self._tiers()
        oldest = GaugeMetricFamily(
            "stacklens_retention_oldest_timestamp_seconds",
            "Time of the oldest data each retention tier keeps.",
            labels=["tier"],
        )
        size = GaugeMetricFamily(
            "stacklens_storage_bytes",
            "Bytes on disk of each retention tier's tables.",
            labels=["tier"],
        )
        for tier in tiers:
            if tier.oldest_ns is not None:
                oldest.add_metric([tier.tier], tier.oldest_ns / 1e9)
            size.add_metric([tier.tier], float(tier.bytes))
        yield oldest
        yield size
