"""The remote-write configs under deploy/: Prometheus's (``promtool check config``) and
Grafana Alloy's (by format: Alloy cannot be installed here) name the hub's remote-write
route with a bearer key, as the real-Prometheus test
(tests/ingest/test_remote_write_prometheus.py) sends them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from stacklens.testing import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ROUTE = "/prometheus/api/v1/write"


def test_prometheus_remote_write_config_is_valid(tmp_path: Path) -> None:
    promtool = require_binary("promtool", package="prometheus")
    config = yaml.safe_load((DEPLOY / "prometheus/remote-write.yml").read_text())
    [target] = config["remote_write"]
    assert target["url"] == "http://stacklens:4320" + ROUTE
    assert target["authorization"]["type"] == "Bearer"
    assert target["queue_config"]["max_samples_per_send"] <= 20_000  # the hub's request bound
    assert config["global"]["external_labels"]["stack_name"]
    key = tmp_path / "key"
    key.write_text("slk_example\n")
    target["authorization"]["credentials_file"] = str(key)
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


def test_alloy_remote_write_config_is_well_formed() -> None:
    text = (DEPLOY / "shippers/alloy-remote-write.river").read_text()
    code = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    assert code.count("{") == code.count("}") and code.count("[") == code.count("]")
    assert code.count('"') % 2 == 0
    blocks = re.findall(r'^([a-z_.]+) "([a-z_]+)" \{', code, re.MULTILINE)
    names = {f"{kind}.{label}" for kind, label in blocks}
    assert names == {"prometheus.scrape.infra", "prometheus.remote_write.stacklens"}
    for target in re.findall(r"forward_to\s*=\s*\[([^\]]+)\]", code):
        assert target.strip().rsplit(".", 1)[0] in names
    assert f'env("STACKLENS_URL") + "{ROUTE}"' in code
    assert 'bearer_token = env("STACKLENS_API_KEY")' in code
    assert '"stack_name" = env("STACK_NAME")' in code
