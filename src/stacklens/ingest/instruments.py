"""The hub's own health metrics (ingest rate, rejections, spool, loader).

Every metric is registered on the registry given, so tests build their own.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["HubMetrics"]


class HubMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "stacklens_ingest_requests",
            "Ingest requests answered, by protocol and HTTP status.",
            ["protocol", "status"],
            registry=registry,
        )
        self.events_accepted = Counter(
            "stacklens_ingest_events_accepted",
            "Events acknowledged (durable in the spool), by protocol.",
            ["protocol"],
            registry=registry,
        )
        self.events_rejected = Counter(
            "stacklens_ingest_events_rejected",
            "Events refused for breaking the contract, by protocol.",
            ["protocol"],
            registry=registry,
        )
        self.ack_seconds = Histogram(
            "stacklens_ingest_ack_seconds",
            "Time from request received to durable acknowledgement.",
            ["protocol"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=registry,
        )
        self.redactions = Counter(
            "stacklens_redactions",
            "Values redacted by the privacy engine, by rule (the values are never logged).",
            ["rule"],
            registry=registry,
        )

    def count_redaction(self, rule: str, count: int) -> None:
        self.redactions.labels(rule=rule).inc(count)

    def watch(
        self,
        *,
        backlog_bytes: Callable[[], float],
        loader_lag_s: Callable[[], float],
        rows_loaded: Callable[[], float],
    ) -> None:
        """Gauges read at scrape time from the running spool and loader."""
        Gauge(
            "stacklens_spool_backlog_bytes",
            "Bytes acknowledged but not yet loaded into the store.",
            registry=self.registry,
        ).set_function(backlog_bytes)
        Gauge(
            "stacklens_loader_lag_seconds",
            "Age of the oldest acknowledged event not yet queryable.",
            registry=self.registry,
        ).set_function(loader_lag_s)
        Gauge(
            "stacklens_loader_rows_loaded",
            "Rows the loader has moved into the store since start.",
            registry=self.registry,
        ).set_function(rows_loaded)
