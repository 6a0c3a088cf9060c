"""The SDK's one metrics API: seed 003's ``MetricsExporter`` over the one catalog.

A stack records catalog metrics through an exporter and nothing else: the seed 003
``record_*``/``update_*`` helpers for the metrics they cover, and, being the catalog
bound to a registry (a :class:`~stacklens.sdk.catalog.Metrics`), ``labels(name, ...)``
for any other catalog metric, with ``stack_name`` filled in and every label bounded::

    metrics = get_metrics_exporter("gateway")
    metrics.record_http_request("POST", "/v1/chat", 200, 0.125)
    metrics.record_inference("llama-3.3-8b", "success", 0.250, prompt_tokens=100,
                             completion_tokens=50)
    metrics.update_budget("default", 1_000_000, 750_000)
    metrics.labels("cache_hits_total", cache_type="semantic").inc()

The ``opencode_*`` metrics come from :class:`~stacklens.sdk.client.Client` (one per
event), the HTTP ones from the ASGI middleware, the GPU gauges from the GPU collector.

Durations are in seconds (base units), as in the seed's examples. Deviation from the
seed: ``update_budget``'s first argument names a *budget* (bounded label ``budget``),
not a session; passing session ids still works but folds into ``"other"`` past 100
distinct names rather than growing the series without bound.
"""

from __future__ import annotations

import threading

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from stacklens.sdk.catalog import Metrics

__all__ = ["MetricsExporter", "get_metrics_exporter"]


class MetricsExporter(Metrics):
    def __init__(
        self,
        service: str,
        *,
        registry: CollectorRegistry | None = None,
        stack_name: str | None = None,
    ) -> None:
        super().__init__(registry, stack_name=stack_name)
        self.service = service

    # -- seed 003 -----------------------------------------------------------------------
    def record_http_request(
        self, method: str, endpoint: str, status: int | str, duration_s: float
    ) -> None:
        self.labels("http_requests_total", method=method, endpoint=endpoint, status=status).inc()
        self.labels("http_request_duration_seconds", method=method, endpoint=endpoint).observe(
            duration_s
        )

    def record_inference(
        self,
        model: str,
        status: str,
        duration_s: float,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        batch_size: int | None = None,
    ) -> None:
        self.labels("inference_requests_total", model=model, status=status).inc()
        self.labels("inference_duration_seconds", model=model).observe(duration_s)
        if prompt_tokens:
            self.labels("inference_tokens_total", model=model, type="input").inc(prompt_tokens)
        if completion_tokens:
            self.labels("inference_tokens_total", model=model, type="output").inc(completion_tokens)
        if batch_size is not None:
            self.labels("inference_batch_size", model=model).observe(batch_size)

    def record_mcp_operation(
        self, server: str, operation: str, status: str, duration_s: float
    ) -> None:
        self.labels("mcp_requests_total", server=server, operation=operation, status=status).inc()
        self.labels("mcp_operation_duration_seconds", server=server, operation=operation).observe(
            duration_s
        )

    def update_drift_score(
        self, model: str, score: float, status: str, duration_s: float | None = None
    ) -> None:
        """The latest score, one check counted by ``status``, and the check's duration."""
        self.labels("drift_score", model=model).set(score)
        self.labels("drift_checks_total", model=model, status=status).inc()
        if duration_s is not None:
            self.labels("drift_detection_duration_seconds").observe(duration_s)

    def update_budget(self, budget: str, total_bytes: float, used_bytes: float) -> None:
        self.labels("memory_budget_total_bytes", budget=budget).set(total_bytes)
        self.labels("memory_budget_used_bytes", budget=budget).set(used_bytes)
        self.labels("memory_budget_utilization", budget=budget).set(
            used_bytes / total_bytes if total_bytes > 0 else 0.0
        )

    # -- the rest of the seed 003 catalog --------------------------------------------------
    def record_memory_operation(
        self, operation: str, status: str, duration_s: float, *, results: int | None = None
    ) -> None:
        self.labels("memory_operations_total", operation=operation, status=status).inc()
        self.labels("memory_operation_duration_seconds", operation=operation).observe(duration_s)
        if results is not None:
            self.labels("memory_search_results").observe(results)

    def set_memory_items(self, count: int) -> None:
        self.labels("memory_items").set(count)

    def record_router_decision(self, model: str, reason: str, duration_s: float) -> None:
        self.labels("router_decisions_total", model=model, reason=reason).inc()
        self.labels("router_decision_duration_seconds").observe(duration_s)

    def set_queue_depth(self, depth: int, service: str | None = None) -> None:
        self.labels("request_queue_depth", service=service or self.service).set(depth)

    def record_queue_wait(self, wait_s: float, service: str | None = None) -> None:
        self.labels("request_queue_wait_seconds", service=service or self.service).observe(wait_s)

    def record_cache(self, cache_type: str, hit: bool) -> None:
        name = "cache_hits_total" if hit else "cache_misses_total"
        self.labels(name, cache_type=cache_type).inc()

    # -- exposition (seed 001 getMetrics / getContentType) -------------------------------
    def generate(self) -> bytes:
        return generate_latest(self.registry)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPE_LATEST


_EXPORTERS: dict[tuple[str, int], MetricsExporter] = {}
_LOCK = threading.Lock()


def get_metrics_exporter(
    service: str, *, registry: CollectorRegistry | None = None
) -> MetricsExporter:
    """Seed 003's factory: one exporter per (service, registry)."""
    key = (service, id(registry))
    with _LOCK:
        exporter = _EXPORTERS.get(key)
        # id() can be reused by a new registry after the old one is freed.
        if exporter is None or (registry is not None and exporter.registry is not registry):
            exporter = _EXPORTERS[key] = MetricsExporter(service, registry=registry)
        return exporter
