"""The Grafana dashboards and provisioning under deploy/: a valid dashboard JSON model
(schemaVersion, uid, a ``datasource`` variable every PromQL target uses and a ``loki``
variable every LogQL target uses, ``stack_name`` from ``label_values``, no import-only
``__inputs``), PromQL that parses (``promtool check rules``) and uses only metric names
and labels a real hub exposes on ``/metrics``, LogQL over the labels the hub's Loki API
serves; the provisioned data sources (the hub's Prometheus and Loki APIs, and a
Prometheus that scrapes the hub) and that every panel's data source resolves to one."""

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
                if target["datasource"]["type"] == "prometheus":
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
        source = panel["datasource"]
        assert source in (PROMQL, LOGQL), panel
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        for target in panel["targets"]:
            assert target["datasource"] == source
            assert target["expr"].strip() and target["refId"]
            if "$stack_name" not in target["expr"]:
                assert panel["title"] in _HUB_PANELS, panel["title"]
        if panel["type"] == "logs":
            assert source == LOGQL, panel["title"]
    # No datasource is hard-wired anywhere (importable into any Grafana).
    assert "stacklens-prometheus" not in path.read_text()


PROMQL = {"type": "prometheus", "uid": "${datasource}"}
LOGQL = {"type": "loki", "uid": "${loki}"}
#: The stream labels the hub's Loki API selects on (issue 18).
_LOKI_LABELS = {"stack_name", "service", "level", "event_type", "app", "service_name"}

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


def provisioned() -> list[dict[str, Any]]:
    document = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/stacklens.yaml").read_text()
    )
    assert document["apiVersion"] == 1
    sources: list[dict[str, Any]] = document["datasources"]
    return sources


def test_provisioning_yaml() -> None:
    sources = {s["uid"]: s for s in provisioned()}
    assert len(sources) == len(provisioned()) == 3
    assert [s["uid"] for s in provisioned() if s.get("isDefault")] == ["stacklens-hub-prometheus"]
    hub_prometheus = sources["stacklens-hub-prometheus"]
    hub_loki = sources["stacklens-hub-loki"]
    scraper = sources["stacklens-prometheus"]
    assert (hub_prometheus["type"], hub_loki["type"], scraper["type"]) == (
        "prometheus",
        "loki",
        "prometheus",
    )
    assert all(s["access"] == "proxy" for s in sources.values())
    # The hub's APIs: Prometheus under /prometheus, Loki at the root (/loki/api/v1/...).
    assert hub_prometheus["url"] == "${STACKLENS_URL:-http://stacklens:4320}/prometheus"
    assert hub_loki["url"] == "${STACKLENS_URL:-http://stacklens:4320}"
    for hub_source in (hub_prometheus, hub_loki):
        assert hub_source["jsonData"]["httpHeaderName1"] == "Authorization"
        # the key from the environment, kept in secureJsonData (encrypted by Grafana)
        assert hub_source["secureJsonData"] == {
            "httpHeaderValue1": "Bearer ${STACKLENS_GRAFANA_KEY}"
        }
    assert hub_prometheus["jsonData"]["httpMethod"] == "POST"
    assert scraper["url"] == "${PROMETHEUS_URL:-http://prometheus:9090}"
    assert "secureJsonData" not in scraper
    providers = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/stacklens.yaml").read_text()
    )
    [provider] = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    scrape = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    [job] = scrape["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"


def _datasource_refs(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for variable in dashboard["templating"]["list"]:
        if "datasource" in variable:
            yield variable["datasource"]
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        yield panel["datasource"]
        for target in panel["targets"]:
            yield target["datasource"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_datasource_uid_resolves_to_a_provisioned_source(path: Path) -> None:
    """A uid is a provisioned data source's, or a ``datasource`` variable of the
    dashboard whose type has at least one provisioned data source to pick."""
    dashboard = load(path)
    by_type: dict[str, set[str]] = {}
    for source in provisioned():
        by_type.setdefault(source["type"], set()).add(source["uid"])
    variables = {
        v["name"]: v["query"] for v in dashboard["templating"]["list"] if v["type"] == "datasource"
    }
    refs = list(_datasource_refs(dashboard))
    assert refs
    for ref in refs:
        uid, kind = ref["uid"], ref["type"]
        assert by_type.get(kind), f"{path.name}: no provisioned {kind} data source"
        variable = re.fullmatch(r"\$\{(\w+)\}", uid)
        if variable:
            assert variables.get(variable.group(1)) == kind, f"{path.name}: {uid} is not a {kind}"
        else:
            assert uid in by_type[kind], f"{path.name}: {uid} is not provisioned"


def test_log_panels_use_logql_over_the_hubs_labels() -> None:
    logql = []
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for target in panel.get("targets", []):
                if target["datasource"] == LOGQL:
                    logql.append((path.name, panel["title"], target["expr"]))
    assert {name for name, _, _ in logql} == {"stack.json", "platform-overview.json"}
    assert any("| json | duration_ms > 5000" in expr for _, _, expr in logql)  # seed 002
    for dashboard, panel, expr in logql:
        selectors = re.findall(r"\{([^}]*)\}", expr.replace("{{", "").replace("}}", ""))
        assert selectors, (dashboard, panel)
        for selector in selectors:
            labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", selector))
            assert labels and labels <= _LOKI_LABELS, (dashboard, panel, labels)
            assert "$stack_name" in selector, (dashboard, panel)


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
