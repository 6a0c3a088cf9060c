"""The Grafana dashboards and provisioning under deploy/: a valid dashboard JSON model
(schemaVersion, uid, a ``datasource`` variable every target uses, ``stack_name`` from
``label_values``, no import-only ``__inputs``), PromQL that parses (``promtool check
rules``) and uses only metric names and labels a real hub exposes on ``/metrics``."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacklens.testing import in_process_hub, require_binary
from stacklens.testing.web import console_seed_events

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
_METRIC = re.compile(r"\b((?:opencode|stacklens)_[a-zA-Z0-9_]+)\b(\{[^}]*\})?")
_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__range": "1d",
    "$__interval": "1m",
    "$stack_name": ".*",
}


def load(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    assert isinstance(document, dict)
    return document


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def expressions() -> list[tuple[str, str, str]]:
    out = []
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target["expr"]))
    for path in DASHBOARDS:
        for variable in load(path)["templating"]["list"]:
            if variable["type"] == "query":
                query = variable["query"]
                text = query["query"] if isinstance(query, dict) else query
                inner = re.fullmatch(r"label_values\((.+),\s*stack_name\)", text)
                assert inner, text
                out.append((path.name, f"variable {variable['name']}", inner.group(1)))
    return out


def test_the_three_dashboards_exist() -> None:
    assert [p.name for p in DASHBOARDS] == ["costs.json", "platform-overview.json", "stack.json"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_json_model(path: Path) -> None:
    dashboard = load(path)
    assert "__inputs" not in dashboard and "__requires" not in dashboard
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", dashboard["uid"])
    assert dashboard["title"] and dashboard.get("id") is None
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    stack = variables["stack_name"]
    assert stack["type"] == "query"
    assert stack["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    query = stack["query"]["query"] if isinstance(stack["query"], dict) else stack["query"]
    assert query.startswith("label_values(") and query.endswith(", stack_name)")
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    data_panels = [p for p in panels(dashboard) if p["type"] != "row"]
    assert len(data_panels) >= 6
    for panel in data_panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert target["expr"].strip() and target["refId"]
            if "$stack_name" not in target["expr"]:
                assert panel["title"] in _HUB_PANELS, panel["title"]
    # No datasource is hard-wired anywhere (importable into any Grafana).
    assert "stacklens-prometheus" not in path.read_text()


_HUB_PANELS = {
    "Ingest requests by protocol",
    "Events accepted / rejected",
    "Ack latency p99",
    "Spool backlog",
    "Loader lag",
    "Rows loaded per second",
}


def test_stack_dashboard_has_a_single_stack_variable() -> None:
    variables = {
        v["name"]: v for v in load(DEPLOY / "grafana/dashboards/stack.json")["templating"]["list"]
    }
    assert variables["stack_name"]["multi"] is False


def test_provisioning_yaml() -> None:
    datasources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/stacklens.yaml").read_text()
    )
    [source] = datasources["datasources"]
    assert datasources["apiVersion"] == 1
    assert source["type"] == "prometheus" and source["access"] == "proxy"
    providers = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/stacklens.yaml").read_text()
    )
    [provider] = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    scrape = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    [job] = scrape["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Metric name → label names, scraped from a real hub's /metrics with data."""
    with in_process_hub(tmp_path_factory.mktemp("grafana") / "data") as (hub, client):
        response = client.post("/v1/events", json=console_seed_events(time.time_ns(), count=800))
        assert response.status_code == 200
        client.post("/v1/events", json=[{"event_type": "nope"}])  # a rejection
        unpriced = {  # every demo model has a price: one call to a model that has none
            "timestamp": time.time_ns(),
            "stack_name": "acme-chat",
            "event_type": "llm_call",
            "data": {"model": "in-house-model-7b", "provider": "acme", "tokens_in": 10},
        }
        assert client.post("/v1/events", json=[unpriced]).json()["accepted"] == 1
        hub.flush()
        text = client.get("/metrics").text
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        name = name.split(" ")[0]
        labels = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', rest)) if rest else set()
        found.setdefault(name, set()).update(labels)
    return found


def test_every_metric_and_label_in_the_dashboards_is_exposed(
    exposed: dict[str, set[str]],
) -> None:
    used: set[str] = set()
    for dashboard, panel, expr in expressions():
        for name, matchers in _METRIC.findall(expr):
            used.add(name)
            assert name in exposed, f"{dashboard} / {panel}: {name} is not on /metrics"
            for label in _LABEL.findall(matchers or ""):
                assert label in exposed[name], f"{dashboard} / {panel}: {name} has no {label}"
        names = [n for n, _ in _METRIC.findall(expr)]
        labels = set().union(*(exposed[n] for n in names)) | {"le"}
        for grouping in _GROUPING.findall(expr):
            for label in (g.strip() for g in grouping.split(",") if g.strip()):
                assert label in labels, f"{dashboard} / {panel}: no label {label}"
    required = {
        "opencode_sessions_total",
        "opencode_messages_total",
        "opencode_tokens_total",
        "opencode_tool_invocations_total",
        "opencode_response_duration_seconds_bucket",
        "opencode_active_sessions",
        "opencode_errors_total",
        "stacklens_cost_usd_total",
        "stacklens_stack_up",
        "stacklens_stack_last_seen_timestamp_seconds",
        "stacklens_spool_backlog_bytes",
        "stacklens_loader_lag_seconds",
        "stacklens_ingest_requests_total",
    }
    assert required <= used


def test_promql_parses(tmp_path: Path) -> None:
    """Each expression (Grafana variables substituted) as a recording rule that
    ``promtool check rules`` parses."""
    promtool = require_binary("promtool", package="prometheus")
    rules = []
    for index, (_, _, text) in enumerate(expressions()):
        expr = text
        for variable, value in _GRAFANA_VARS.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append({"record": f"stacklens:dashboard_check:{index}", "expr": expr})
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_is_valid(tmp_path: Path) -> None:
    promtool = require_binary("promtool", package="prometheus")
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    key = tmp_path / "key"
    key.write_text("slk_example\n")
    config["scrape_configs"][0]["authorization"]["credentials_file"] = str(key)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [promtool, "check", "config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
