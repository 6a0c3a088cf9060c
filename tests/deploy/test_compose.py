"""The compose stacks under deploy/compose: each is a valid compose file (checked by
Debian's ``docker-compose config``, no engine needed), builds this repo's Dockerfile,
keeps the data in a volume, and its configs agree with what the hub exports. The
scale-out stack's replicas each keep their own volume and share one store, metadata
database and secret, and its HAProxy config (checked by ``haproxy -c``) balances every
replica on both ports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from stacklens.store.urls import parse_store_url
from stacklens.testing import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose"
STACKS = sorted(path.parent.name for path in COMPOSE.glob("*/docker-compose.yml"))
DOCKER_COMPOSE = require_binary("docker-compose", package="docker-compose")


#: The ``.env`` the scale-out stack's header has a user create (compose reads it itself).
SCALE_OUT_ENV = {
    "POSTGRES_PASSWORD": "pg-pw-3f9a",
    "CLICKHOUSE_PASSWORD": "ch-pw-81c2",
    "STACKLENS_SECRET_KEY": "secret-key-5d7e",
    "STACKLENS_BOOTSTRAP_ADMIN_KEY": "slk_test_scale_out_key",
}


def rendered(stack: str, tmp_path: Path, dotenv: dict[str, str] | None = None) -> dict[str, Any]:
    """``docker-compose config`` of a copy with the env files a user creates first."""
    answer = render(stack, tmp_path, dotenv or {})
    assert answer.returncode == 0, answer.stderr
    document = yaml.safe_load(answer.stdout)
    assert isinstance(document, dict)
    return document


def render(stack: str, tmp_path: Path, dotenv: dict[str, str]) -> subprocess.CompletedProcess[str]:
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    shutil.copy(DEPLOY.parent / "Dockerfile", tmp_path / "Dockerfile")
    (copy / "compose" / stack / "stacklens.env").write_text(
        "STACKLENS_BOOTSTRAP_ADMIN_KEY=slk_test_compose_key\n"
    )
    if dotenv:
        lines = "".join(f"{name}={value}\n" for name, value in dotenv.items())
        (copy / "compose" / stack / ".env").write_text(lines)
    return subprocess.run(
        [DOCKER_COMPOSE, "-f", str(copy / "compose" / stack / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        check=False,
    )


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
    assert STACKS == ["hub", "neighbours", "scale-out"]


@pytest.mark.parametrize("stack", ["hub", "neighbours"])
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


def replicas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The hub services: those built from this repo's Dockerfile."""
    return {name: svc for name, svc in document["services"].items() if "build" in svc}


def test_scale_out_replicas_each_keep_their_own_volume(tmp_path: Path) -> None:
    document = rendered("scale-out", tmp_path, SCALE_OUT_ENV)
    hubs = replicas(document)
    assert len(hubs) >= 2
    data = {name: mounts(hub)["/var/lib/stacklens"] for name, hub in hubs.items()}
    # One named volume per replica (its spool): none shared, each declared.
    assert len(set(data.values())) == len(hubs)
    assert set(data.values()) <= set(document["volumes"])
    for hub in hubs.values():
        assert (Path(hub["build"]["context"]) / hub["build"]["dockerfile"]).is_file()
        assert "ports" not in hub  # reached through the balancer only
    services = document["services"]
    assert mounts(services["postgres"])["/var/lib/postgresql/data"] in document["volumes"]
    assert mounts(services["clickhouse"])["/var/lib/clickhouse"] in document["volumes"]
    published = {str(port["published"]) for port in services["lb"]["ports"]}
    assert published == {"4320", "4317"}


def test_scale_out_replicas_share_the_store_metadata_and_secret(tmp_path: Path) -> None:
    document = rendered("scale-out", tmp_path, SCALE_OUT_ENV)
    services = document["services"]
    shared = (
        "STACKLENS_STORE_URL",
        "STACKLENS_METADATA_URL",
        "STACKLENS_SECRET_KEY",
        "STACKLENS_BOOTSTRAP_ADMIN_KEY",
    )
    envs = [hub["environment"] for hub in replicas(document).values()]
    for name in shared:
        assert len({env[name] for env in envs}) == 1, name
    env = envs[0]
    assert env["STACKLENS_SECRET_KEY"] == SCALE_OUT_ENV["STACKLENS_SECRET_KEY"]
    assert env["STACKLENS_BOOTSTRAP_ADMIN_KEY"] == SCALE_OUT_ENV["STACKLENS_BOOTSTRAP_ADMIN_KEY"]
    # The store URL names the ClickHouse service, with the user, password and database
    # its container is created with.
    store = parse_store_url(env["STACKLENS_STORE_URL"])
    clickhouse = services["clickhouse"]["environment"]
    assert (store.scheme, store.host, store.port) == ("clickhouse", "clickhouse", 8123)
    assert (store.username, store.password, store.database) == (
        clickhouse["CLICKHOUSE_USER"],
        SCALE_OUT_ENV["CLICKHOUSE_PASSWORD"],
        clickhouse["CLICKHOUSE_DB"],
    )
    assert clickhouse["CLICKHOUSE_PASSWORD"] == SCALE_OUT_ENV["CLICKHOUSE_PASSWORD"]
    assert not store.clustered  # one server: the single-node migrations
    metadata = make_url(env["STACKLENS_METADATA_URL"])
    postgres = services["postgres"]["environment"]
    assert (metadata.drivername, metadata.host, metadata.port) == (
        "postgresql+psycopg",
        "postgres",
        5432,
    )
    assert (metadata.username, metadata.password, metadata.database) == (
        postgres["POSTGRES_USER"],
        SCALE_OUT_ENV["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    assert postgres["POSTGRES_PASSWORD"] == SCALE_OUT_ENV["POSTGRES_PASSWORD"]


def test_scale_out_starts_in_order_on_health(tmp_path: Path) -> None:
    services = rendered("scale-out", tmp_path, SCALE_OUT_ENV)["services"]
    hubs = replicas({"services": services})
    for hub in hubs.values():
        assert hub["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "clickhouse": {"condition": "service_healthy"},
        }
        assert hub["stop_grace_period"] == "30s"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "8123/ping" in " ".join(services["clickhouse"]["healthcheck"]["test"])
    assert set(services["lb"]["depends_on"]) == set(hubs)


def test_scale_out_without_its_env_file_fails_with_one_clear_line(tmp_path: Path) -> None:
    answer = render("scale-out", tmp_path, {})
    assert answer.returncode != 0
    assert "create .env first" in answer.stderr


HAPROXY_CFG = COMPOSE / "scale-out" / "haproxy" / "haproxy.cfg"


def haproxy_sections(text: str) -> dict[str, list[str]]:
    """``"frontend http"`` -> its directive lines, comments dropped."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():
            current = sections.setdefault(line.strip(), [])
        else:
            current.append(" ".join(line.split()))
    return sections


def test_scale_out_balancer_routes_both_ports_to_every_replica(tmp_path: Path) -> None:
    document = rendered("scale-out", tmp_path, SCALE_OUT_ENV)
    lb = document["services"]["lb"]
    mounted = Path(mounts(lb)["/usr/local/etc/haproxy/haproxy.cfg"])
    assert mounted.name == HAPROXY_CFG.name and mounted.parent.name == "haproxy"
    sections = haproxy_sections(HAPROXY_CFG.read_text())
    hubs = sorted(replicas(document))
    # Each published port has a frontend bound to it, whose backend lists every replica
    # on that port and sends traffic only to those whose /ready answers 200.
    for port, mode in (("4320", "http"), ("4317", "tcp")):
        (frontend,) = [
            lines for name, lines in sections.items()
            if name.startswith("frontend ") and f"bind :{port}" in lines
        ]  # fmt: skip
        assert f"mode {mode}" in frontend
        (backend_name,) = [
            line.split()[1] for line in frontend if line.startswith("default_backend")
        ]
        backend = sections[f"backend {backend_name}"]
        assert f"mode {mode}" in backend
        servers = [line.split() for line in backend if line.startswith("server ")]
        assert sorted(s[1] for s in servers) == hubs
        assert all(s[2] == f"{s[1]}:{port}" for s in servers)
        assert "option httpchk" in backend
        assert "http-check send meth GET uri /ready" in backend
        assert "http-check expect status 200" in backend
        if port == "4317":  # the gRPC port is checked on the replica's HTTP port
            assert all(s[3:] == ["check", "port", "4320"] for s in servers)
    assert "balance roundrobin" in sections["backend hubs_http"]
    defaults = " ".join(sections["defaults"])
    assert "check" in defaults.split() and "init-addr" in defaults


def test_scale_out_balancer_config_is_valid_for_haproxy() -> None:
    haproxy = require_binary("haproxy", package="haproxy")
    check = subprocess.run(
        [haproxy, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, check=False
    )
    output = check.stdout + check.stderr
    assert check.returncode == 0, output
    assert "Configuration file is valid" in output
    # The only warnings allowed: the replicas' names do not resolve outside compose's
    # network (init-addr none lets the balancer start anyway, as it must there too).
    warnings = [line for line in output.splitlines() if "[WARNING]" in line]
    assert all("could not resolve address 'stacklens-" in line for line in warnings), output
