"""The metric catalog, the seed 003 exporter API, and ``promtool check metrics``."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from stacklens.sdk import get_metrics_exporter
from stacklens.sdk.catalog import (
    CATALOG,
    GENAI_DURATION_BUCKETS,
    OTHER,
    SPECS,
    Metrics,
    create_metric,
)
from stacklens.sdk.exporter import MetricsExporter

SEED_NAMES = {
    # seed 000 §3.3
    "opencode_sessions_total",
    "opencode_messages_total",
    "opencode_tokens_total",
    "opencode_tool_invocations_total",
    "opencode_response_duration_seconds",
    "opencode_active_sessions",
    # seed 001
    "opencode_llm_requests_total",
    "opencode_llm_tokens_total",
    "opencode_llm_request_duration_seconds",
    "opencode_llm_cost_dollars",
    # seed 003
    "http_requests_total",
    "http_request_duration_seconds",
    "inference_requests_total",
    "inference_duration_seconds",
    "inference_tokens_total",
    "inference_batch_size",
    "mcp_requests_total",
    "mcp_operation_duration_seconds",
    "memory_operations_total",
    "memory_operation_duration_seconds",
    "memory_search_results",
    "memory_budget_total_bytes",
    "memory_budget_used_bytes",
    "memory_budget_utilization",
    "drift_score",
    "drift_checks_total",
    "drift_detection_duration_seconds",
    "gpu_utilization_percent",
    "gpu_memory_used_bytes",
    "gpu_memory_total_bytes",
    "gpu_temperature_celsius",
    "router_decisions_total",
    "router_decision_duration_seconds",
    "request_queue_depth",
    "request_queue_wait_seconds",
    "cache_hits_total",
    "cache_misses_total",
}


def promtool_check(text: bytes) -> subprocess.CompletedProcess[bytes]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed (Debian package 'prometheus'); it is required")
    return subprocess.run([binary, "check", "metrics"], input=text, capture_output=True, timeout=30)


def observe_everything(metrics: Metrics) -> None:
    for spec in CATALOG:
        child = metrics.labels(spec.name, **dict.fromkeys(spec.labels, "x"))
        if spec.kind == "counter":
            child.inc()
        elif spec.kind == "gauge":
            child.set(1)
        else:
            child.observe(0.3)


def test_catalog_defines_every_seed_metric_once() -> None:
    names = [spec.name for spec in CATALOG]
    assert len(names) == len(set(names))
    assert set(names) >= SEED_NAMES


def test_labels_are_bounded() -> None:
    for spec in CATALOG:
        for label in spec.labels:
            assert label not in {"user_id", "session_id", "trace_id", "request_id"}, spec.name
    assert SPECS["memory_budget_used_bytes"].labels == ("budget",)


def test_genai_buckets() -> None:
    assert SPECS["opencode_response_duration_seconds"].buckets == GENAI_DURATION_BUCKETS
    assert GENAI_DURATION_BUCKETS[:3] == (0.01, 0.02, 0.04)


def test_promtool_accepts_the_exposition(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry, stack_name="demo")
    metrics.register_all()
    observe_everything(metrics)
    text = generate_latest(registry)
    for spec in CATALOG:
        assert spec.name.encode() in text
    result = promtool_check(text)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert result.stdout == b""
    assert result.stderr == b""


def test_every_metric_accepts_a_registry() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    for spec in CATALOG:
        create_metric(spec, registry=first)
        create_metric(spec, registry=second)  # no clash: separate registries
    assert b"opencode_sessions_total" in generate_latest(first)


def test_stack_name_label_from_env(
    monkeypatch: pytest.MonkeyPatch, registry: CollectorRegistry
) -> None:
    monkeypatch.setenv("STACK_NAME", "chat-prod")
    Metrics(registry).labels("opencode_sessions_total").inc()
    assert registry.get_sample_value("opencode_sessions_total", {"stack_name": "chat-prod"}) == 1


def test_two_users_of_one_registry_share_metrics(registry: CollectorRegistry) -> None:
    Metrics(registry, stack_name="a").labels("cache_hits_total", cache_type="kv").inc()
    Metrics(registry, stack_name="a").labels("cache_hits_total", cache_type="kv").inc()
    assert (
        registry.get_sample_value("cache_hits_total", {"stack_name": "a", "cache_type": "kv"}) == 2
    )


def test_label_guard_folds_unbounded_values(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry, stack_name="s")
    for index in range(150):
        metrics.labels("memory_budget_used_bytes", budget=f"session-{index}").set(index)
    budgets = {
        sample.labels["budget"]
        for family in registry.collect()
        for sample in family.samples
        if family.name == "memory_budget_used_bytes"
    }
    assert len(budgets) == 101
    assert OTHER in budgets


def test_seed_003_exporter_api(registry: CollectorRegistry) -> None:
    metrics = MetricsExporter("gateway", registry=registry, stack_name="s")
    metrics.record_http_request("POST", "/v1/chat", 200, 0.125)
    metrics.record_inference(
        "llama-3.3-8b", "success", 0.250, prompt_tokens=100, completion_tokens=50, batch_size=4
    )
    metrics.record_mcp_operation("github", "search", "success", 0.050)
    metrics.update_drift_score("llama-3.3-8b", 0.18, "warning", 5.0)
    metrics.update_budget("default", 1_000_000, 750_000)
    metrics.record_cache("semantic", hit=True)
    metrics.record_cache("semantic", hit=False)
    metrics.set_queue_depth(7)
    metrics.record_router_decision("llama", "cost", 0.001)
    metrics.record_memory_operation("search", "success", 0.02, results=5)
    metrics.set_memory_items(12)
    metrics.record_queue_wait(0.5)
    value = registry.get_sample_value
    s = {"stack_name": "s"}
    assert (
        value(
            "http_requests_total", {**s, "method": "POST", "endpoint": "/v1/chat", "status": "200"}
        )
        == 1
    )
    assert (
        value("http_request_duration_seconds_sum", {**s, "method": "POST", "endpoint": "/v1/chat"})
        == 0.125
    )
    assert value("inference_tokens_total", {**s, "model": "llama-3.3-8b", "type": "input"}) == 100
    assert value("inference_tokens_total", {**s, "model": "llama-3.3-8b", "type": "output"}) == 50
    assert (
        value(
            "mcp_requests_total",
            {**s, "server": "github", "operation": "search", "status": "success"},
        )
        == 1
    )
    assert value("drift_score", {**s, "model": "llama-3.3-8b"}) == 0.18
    assert value("drift_checks_total", {**s, "model": "llama-3.3-8b", "status": "warning"}) == 1
    assert value("drift_detection_duration_seconds_sum", s) == 5.0
    assert value("memory_budget_utilization", {**s, "budget": "default"}) == 0.75
    assert value("cache_misses_total", {**s, "cache_type": "semantic"}) == 1
    assert value("request_queue_depth", {**s, "service": "gateway"}) == 7
    assert value("memory_items", s) == 12
    result = promtool_check(metrics.generate())
    assert result.returncode == 0, result.stderr.decode()


def test_get_metrics_exporter_is_cached(registry: CollectorRegistry) -> None:
    first = get_metrics_exporter("svc-a", registry=registry)
    assert get_metrics_exporter("svc-a", registry=registry) is first
    assert get_metrics_exporter("svc-b", registry=registry) is not first
    assert first.content_type.startswith("text/plain")


def test_the_exporter_is_the_one_metrics_api(registry: CollectorRegistry) -> None:
    """Every catalog metric is recorded through ``get_metrics_exporter``: the seed helpers
    where they exist, ``labels`` for the rest, bounded as everywhere."""
    metrics = get_metrics_exporter("gateway", registry=registry)
    assert isinstance(metrics, Metrics)
    observe_everything(metrics)
    text = generate_latest(registry)
    for spec in CATALOG:
        assert spec.name.encode() in text, spec.name
    metrics.labels("cache_hits_total", cache_type="kv").inc()
    assert (
        registry.get_sample_value(
            "cache_hits_total", {"stack_name": metrics.stack_name, "cache_type": "kv"}
        )
        == 1
    )
    for index in range(300):
        metrics.labels("gpu_utilization_percent", gpu_id=f"gpu-{index}").set(index)
    gpus = {
        sample.labels["gpu_id"]
        for family in registry.collect()
        for sample in family.samples
        if family.name == "gpu_utilization_percent"
    }
    assert OTHER in gpus and len(gpus) == 65
