"""The one metric catalog: every seed metric defined once, with base units and bounded
labels.

Sources: seed 000 §3.3 (``opencode_*`` agent metrics), seed 001 "Application
Instrumentation" (LLM metrics), seed 003 "Custom Metrics" (HTTP, inference, MCP,
memory, budget, drift, GPU, router, queue, cache). Where two seeds name the same
thing, it is defined once: HTTP and cache use the seed 003 names (``http_requests_total``,
``cache_hits_total``), which Grafana dashboards and the seed 003 alert rules query.

Every metric carries ``stack_name`` (from ``STACK_NAME``) as its first label. Labels are
bounded: no user or session ids (seed 003's ``memory_items_total{user_id}`` and
``memory_budget_*{session_id}`` become ``memory_items`` and ``memory_budget_*{budget}``),
and a guard folds any label past its distinct-value bound into ``"other"``.

Metrics are created lazily, once per registry, so ``/metrics`` shows what the service
uses; :meth:`Metrics.register_all` creates every one (tests, ``promtool``).
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Final, Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "CATALOG",
    "GENAI_DURATION_BUCKETS",
    "GENAI_TOKEN_BUCKETS",
    "HTTP_DURATION_BUCKETS",
    "OTHER",
    "SPECS",
    "MetricSpec",
    "Metrics",
    "create_metric",
]

Kind = Literal["counter", "gauge", "histogram"]
Metric = Counter | Gauge | Histogram

#: OTel GenAI semantic conventions, ``gen_ai.client.operation.duration`` (seconds), plus
#: 163.84 s so the seed 000 bound of 120 s stays inside a bucket.
GENAI_DURATION_BUCKETS: Final = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
    163.84,
)
#: OTel GenAI semantic conventions, ``gen_ai.client.token.usage``.
GENAI_TOKEN_BUCKETS: Final = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
#: OTel HTTP semantic conventions, ``http.server.request.duration`` (seconds).
HTTP_DURATION_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
_SLOW_BUCKETS: Final = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_COUNT_BUCKETS: Final = (0, 1, 2, 5, 10, 20, 50, 100, 200)

#: The value a label takes once it has seen too many distinct values.
OTHER: Final = "other"
_MAX_LABEL_CHARS: Final = 128


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    #: Where the name comes from (documentation).
    source: str = ""


def _c(name: str, doc: str, labels: tuple[str, ...], source: str) -> MetricSpec:
    return MetricSpec(name, "counter", doc, labels, None, source)


def _g(name: str, doc: str, labels: tuple[str, ...], source: str) -> MetricSpec:
    return MetricSpec(name, "gauge", doc, labels, None, source)


def _h(
    name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...], source: str
) -> MetricSpec:
    return MetricSpec(name, "histogram", doc, labels, buckets, source)


S0, S1, S3, SDK = "seed 000 §3.3", "seed 001", "seed 003", "stacklens sdk"

CATALOG: Final[tuple[MetricSpec, ...]] = (
    # seed 000 §3.3: the agent.
    _c("opencode_sessions_total", "Sessions started.", (), S0),
    _c("opencode_messages_total", "Messages processed.", ("role", "model", "agent"), S0),
    _c(
        "opencode_tokens_total",
        "Tokens used, by direction (input, output, cache_read, cache_write, reasoning).",
        ("model", "direction"),
        S0,
    ),
    _c("opencode_tool_invocations_total", "Tool invocations.", ("tool", "success"), S0),
    _h(
        "opencode_response_duration_seconds",
        "AI response duration in seconds.",
        ("model",),
        GENAI_DURATION_BUCKETS,
        S0,
    ),
    _g("opencode_active_sessions", "Sessions currently active.", (), S0),
    # seed 001: LLM calls.
    _c("opencode_llm_requests_total", "LLM API requests.", ("provider", "model", "status"), S1),
    _c(
        "opencode_llm_tokens_total",
        "Tokens in LLM requests, by type (input, output).",
        ("provider", "model", "type"),
        S1,
    ),
    _h(
        "opencode_llm_request_duration_seconds",
        "LLM request duration in seconds.",
        ("provider", "model"),
        GENAI_DURATION_BUCKETS,
        S1,
    ),
    _c(
        "opencode_llm_cost_dollars",
        "Cost of LLM requests in US dollars.",
        ("provider", "model"),
        S1,
    ),
    # seed 003 (and seed 001's HTTP and cache metrics, defined here once).
    _c("http_requests_total", "HTTP requests served.", ("method", "endpoint", "status"), S3),
    _h(
        "http_request_duration_seconds",
        "HTTP request duration in seconds.",
        ("method", "endpoint"),
        HTTP_DURATION_BUCKETS,
        S3,
    ),
    _g("http_requests_in_progress", "HTTP requests being served.", ("method",), SDK),
    _c("inference_requests_total", "Inference requests.", ("model", "status"), S3),
    _h(
        "inference_duration_seconds",
        "Inference duration in seconds.",
        ("model",),
        GENAI_DURATION_BUCKETS,
        S3,
    ),
    _c(
        "inference_tokens_total",
        "Inference tokens, by type (input, output).",
        ("model", "type"),
        S3,
    ),
    _h("inference_batch_size", "Inference batch size.", ("model",), _BATCH_BUCKETS, S3),
    _c("mcp_requests_total", "MCP requests.", ("server", "operation", "status"), S3),
    _h(
        "mcp_operation_duration_seconds",
        "MCP operation duration in seconds.",
        ("server", "operation"),
        HTTP_DURATION_BUCKETS,
        S3,
    ),
    _c("memory_operations_total", "Memory engine operations.", ("operation", "status"), S3),
    _h(
        "memory_operation_duration_seconds",
        "Memory operation duration in seconds.",
        ("operation",),
        HTTP_DURATION_BUCKETS,
        S3,
    ),
    _g(
        "memory_items",
        "Items held by the memory engine (seed 003 memory_items_total, without its user_id label).",
        (),
        S3,
    ),
    _h("memory_search_results", "Results returned per memory search.", (), _COUNT_BUCKETS, S3),
    _g("memory_budget_total_bytes", "Memory budget size in bytes.", ("budget",), S3),
    _g("memory_budget_used_bytes", "Memory budget used in bytes.", ("budget",), S3),
    _g("memory_budget_utilization", "Memory budget used, as a ratio (0-1).", ("budget",), S3),
    _g("drift_score", "Latest drift score.", ("model",), S3),
    _c("drift_checks_total", "Drift checks run.", ("model", "status"), S3),
    _h(
        "drift_detection_duration_seconds",
        "Drift check duration in seconds.",
        (),
        _SLOW_BUCKETS,
        S3,
    ),
    _g("gpu_utilization_percent", "GPU utilization in percent (0-100).", ("gpu_id",), S3),
    _g("gpu_memory_used_bytes", "GPU memory used in bytes.", ("gpu_id",), S3),
    _g("gpu_memory_total_bytes", "GPU memory in bytes.", ("gpu_id",), S3),
    _g("gpu_temperature_celsius", "GPU temperature in degrees Celsius.", ("gpu_id",), S3),
    _c("router_decisions_total", "Routing decisions.", ("model", "reason"), S3),
    _h(
        "router_decision_duration_seconds",
        "Routing decision duration in seconds.",
        (),
        HTTP_DURATION_BUCKETS,
        S3,
    ),
    _g("request_queue_depth", "Requests waiting in the queue.", ("service",), S3),
    _h(
        "request_queue_wait_seconds",
        "Time spent queued in seconds.",
        ("service",),
        HTTP_DURATION_BUCKETS,
        S3,
    ),
    _c("cache_hits_total", "Cache hits.", ("cache_type",), S3),
    _c("cache_misses_total", "Cache misses.", ("cache_type",), S3),
)
SPECS: Final = {spec.name: spec for spec in CATALOG}

#: Distinct values a label may take before the guard folds new ones into "other".
_LABEL_LIMITS: Final = {"endpoint": 200, "budget": 100, "gpu_id": 64, "success": 2}
_DEFAULT_LABEL_LIMIT: Final = 256


def create_metric(spec: MetricSpec, registry: CollectorRegistry | None = REGISTRY) -> Metric:
    """The prometheus_client object for ``spec`` (``stack_name`` first), registered in
    ``registry`` (``None``: not registered)."""
    labels = ("stack_name", *spec.labels)
    if spec.kind == "counter":
        return Counter(spec.name, spec.help, labels, registry=registry)
    if spec.kind == "gauge":
        return Gauge(spec.name, spec.help, labels, registry=registry)
    return Histogram(spec.name, spec.help, labels, registry=registry, buckets=spec.buckets or ())


class _Shared:
    """What every :class:`Metrics` on one registry shares (a name registers once)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.metrics: dict[str, Metric] = {}
        self.seen: dict[tuple[str, str], set[str]] = {}


_SHARED: weakref.WeakKeyDictionary[CollectorRegistry, _Shared] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


class Metrics:
    """The catalog bound to a registry and a stack.

    What the SDK's parts (client, middleware) record through. A stack author holds a
    :class:`~stacklens.sdk.exporter.MetricsExporter` (``get_metrics_exporter``), which
    is one of these plus the seed 003 helpers: the SDK's one metrics API.

    ``metrics.labels("opencode_tokens_total", model="m", direction="input").inc(10)``
    fills ``stack_name`` and bounds every label value.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, stack_name: str | None = None
    ) -> None:
        self.registry = REGISTRY if registry is None else registry
        self.stack_name = stack_name or os.environ.get("STACK_NAME") or "unknown"
        with _SHARED_LOCK:
            shared = _SHARED.get(self.registry)
            if shared is None:
                shared = _SHARED[self.registry] = _Shared()
        self._shared = shared

    def metric(self, name: str) -> Metric:
        """The metric ``name`` of the catalog, created and registered on first use."""
        found = self._shared.metrics.get(name)
        if found is None:
            with self._shared.lock:
                found = self._shared.metrics.get(name)
                if found is None:
                    found = self._shared.metrics[name] = create_metric(SPECS[name], self.registry)
        return found

    def register_all(self) -> None:
        for spec in CATALOG:
            self.metric(spec.name)

    def bounded(self, metric: str, label: str, value: object) -> str:
        """``value`` as a label value, or ``"other"`` past the label's bound."""
        text = value if isinstance(value, str) else str(value)
        if len(text) > _MAX_LABEL_CHARS:
            text = text[:_MAX_LABEL_CHARS]
        seen = self._shared.seen.get((metric, label))
        if seen is None:
            seen = self._shared.seen.setdefault((metric, label), set())
        if text in seen:
            return text
        if len(seen) >= _LABEL_LIMITS.get(label, _DEFAULT_LABEL_LIMIT):
            return OTHER
        seen.add(text)
        return text

    def labels(self, name: str, **labels: object) -> Any:
        """The child of ``name`` for these labels (``stack_name`` filled in)."""
        bounded = {key: self.bounded(name, key, value) for key, value in labels.items()}
        return self.metric(name).labels(stack_name=self.stack_name, **bounded)
