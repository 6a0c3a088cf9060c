"""The compose stacks under deploy/compose: each is a valid compose file (checked by
Debian's ``docker-compose config``, no engine needed), builds this repo's Dockerfile,
keeps the data in a volume, and its configs agree with what the hub exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacklens.testing import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose"
STACKS = sorted(path.parent.name for path in COMPOSE.glob("*/docker-compose.yml"))
DOCKER_COMPOSE = require_binary("docker-compose", package="docker-compose")


def rendered(stack: str, tmp_path: Path) -> dict[str, Any]:
    """``docker-compose config`` of a copy with the env file a user creates first."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    shutil.copy(DEPLOY.parent / "Dockerfile", tmp_path / "Dockerfile")
    (copy / "compose" / stack / "stacklens.env").write_text(
        "STACKLENS_BOOTSTRAP_ADMIN_KEY=slk_test_compose_key\n"
    )
    answer = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(copy / "compose" / stack / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    document = yaml.safe_load(answer.stdout)
    assert isinstance(document, dict)
    return document


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target -> source of a service's volumes, short (``src:dst[:mode]``) or long form."""
    found = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            source, target = entry.split(":")[:2]
        else:
            source, target = entry.get("source", ""), entry["target"]
        found[target] = source
    return found


def test_the_stacks_are_there() -> None:
    assert STACKS == ["hub", "neighbours"]


@pytest.mark.parametrize("stack", STACKS)
def test_compose_file_is_valid_and_runs_the_hub_on_a_volume(stack: str, tmp_path: Path) -> None:
    document = rendered(stack, tmp_path)
    hub = document["services"]["stacklens"]
    assert (Path(hub["build"]["context"]) / hub["build"]["dockerfile"]).is_file()
    assert hub["environment"]["STACKLENS_BOOTSTRAP_ADMIN_KEY"] == "slk_test_compose_key"
    # A named volume (not a host path) holds the data directory.
    assert mounts(hub)["/var/lib/stacklens"] == "stacklens-data"
    assert "stacklens-data" in document["volumes"]
    # docker-compose renders each port as {"target": 4320, "published": "4320", ...}.
    published = {str(port["published"]) for port in hub["ports"]}
    assert {"4320", "4317"} <= published  # HTTP, and OTLP/gRPC for the seed collectors


def test_neighbours_wire_prometheus_alertmanager_and_grafana(tmp_path: Path) -> None:
    document = rendered("neighbours", tmp_path)
    services = document["services"]
    assert {"stacklens", "prometheus", "alertmanager", "grafana"} <= set(services)
    prometheus = mounts(services["prometheus"])
    assert Path(prometheus["/etc/prometheus/stacklens-read-key"]).name == "prometheus-read-key"
    assert Path(prometheus["/etc/prometheus/rules"]).is_dir()
    grafana = mounts(services["grafana"])
    assert sorted(Path(grafana["/var/lib/grafana/dashboards/stacklens"]).glob("*.json"))
    hub_env = services["stacklens"]["environment"]
    assert hub_env["STACKLENS_ALERTING_CONFIG_FILE"] == "/etc/stacklens/alerting.yml"


def test_neighbours_prometheus_scrapes_the_hub_with_a_read_key() -> None:
    config = yaml.safe_load((COMPOSE / "neighbours" / "prometheus" / "prometheus.yml").read_text())
    job = config["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["credentials_file"] == "/etc/prometheus/stacklens-read-key"
    assert job["static_configs"][0]["targets"] == ["stacklens:4320"]
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def _export(*args: str, env: dict[str, str] | None = None) -> str:
    import os
    import sys

    answer = subprocess.run(
        [sys.executable, "-m", "stacklens.cli", "rules", "export", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return answer.stdout


def test_shipped_rules_are_the_current_export() -> None:
    shipped = (COMPOSE / "neighbours" / "prometheus" / "rules" / "stacklens.yml").read_text()
    assert shipped == _export(), "run: stacklens rules export -o deploy/compose/neighbours/..."
    promtool = require_binary("promtool", package="prometheus")
    check = subprocess.run(
        [promtool, "check", "rules", str(COMPOSE / "neighbours/prometheus/rules/stacklens.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_shipped_alertmanager_config_is_the_export_of_the_routing_tree() -> None:
    shipped = (COMPOSE / "neighbours" / "alertmanager" / "alertmanager.yml").read_text()
    exported = _export(
        "--format",
        "alertmanager",
        env={"STACKLENS_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/FILL/IN/ME"},
    )
    assert shipped == exported
    amtool = require_binary("amtool", package="prometheus-alertmanager")
    check = subprocess.run(
        [amtool, "check-config", str(COMPOSE / "neighbours/alertmanager/alertmanager.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
