"""The neighbours stack as processes: a real Prometheus and a real Alertmanager (Debian)
started from the configs shipped in deploy/compose/neighbours, scraping a real hub with a
read key. Errors flow into the hub; the exported HighErrorRate rule fires in Prometheus,
goes through the shipped Alertmanager routing and reaches a local Slack-shaped webhook.

Only timing is changed from the shipped files: 2 s scrapes (a 2 s scrape timeout: a
loaded 2-core runner can take more than 1 s to answer /metrics, and a timed-out scrape
leaves a gap), 1 s evaluations, ``for: 0s`` and ``group_wait: 1s``, so the test takes
seconds instead of ten minutes; the hosts become loopback ports."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from stacklens.metadata import KeyRing, MetadataDB
from stacklens.testing import HubProcess, free_port, require_binary, wait_until

NEIGHBOURS = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "neighbours"
PROMETHEUS = require_binary("prometheus", package="prometheus")
ALERTMANAGER = require_binary(
    "prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager"
)
pytestmark = [pytest.mark.slow]


class Webhook:
    """A local HTTP receiver standing in for Slack's incoming webhook."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[HubProcess, Webhook, str]]:
    hub = HubProcess(tmp_path / "data").start()
    webhook = Webhook()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        _, read_key = KeyRing(MetadataDB.in_data_dir(tmp_path / "data")).create(
            "read", label="prometheus"
        )
        (tmp_path / "read-key").write_text(read_key)

        am_port, prom_port = free_port(), free_port()
        am_config = (NEIGHBOURS / "alertmanager" / "alertmanager.yml").read_text()
        am_config = am_config.replace("https://hooks.slack.com/REDACTED", webhook.url)
        am_config = re.sub(r"group_wait: \S+", "group_wait: 1s", am_config)
        (tmp_path / "alertmanager.yml").write_text(am_config)
        processes.append(
            start(
                [
                    ALERTMANAGER,
                    f"--config.file={tmp_path / 'alertmanager.yml'}",
                    f"--storage.path={tmp_path / 'am'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
                tmp_path / "alertmanager.log",
            )
        )

        rules = (NEIGHBOURS / "prometheus" / "rules" / "stacklens.yml").read_text()
        rules = re.sub(r"for: \S+", "for: 0s", rules)
        rules = re.sub(r"interval: \S+", "interval: 1s", rules)
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "stacklens.yml").write_text(rules)

        config = yaml.safe_load((NEIGHBOURS / "prometheus" / "prometheus.yml").read_text())
        config["global"] = {
            "scrape_interval": "2s",
            "scrape_timeout": "2s",
            "evaluation_interval": "1s",
        }
        config["rule_files"] = [str(tmp_path / "rules" / "*.yml")]
        config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
            f"127.0.0.1:{am_port}"
        ]
        job = config["scrape_configs"][0]
        job["authorization"]["credentials_file"] = str(tmp_path / "read-key")
        job["static_configs"][0]["targets"] = [hub.url.removeprefix("http://")]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        processes.append(
            start(
                [
                    PROMETHEUS,
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                tmp_path / "prometheus.log",
            )
        )
        prometheus = f"http://127.0.0.1:{prom_port}"
        wait_until(lambda: ready(f"http://127.0.0.1:{am_port}/-/ready"), timeout=30)
        wait_until(lambda: ready(f"{prometheus}/-/ready"), timeout=30)
        yield hub, webhook, prometheus
    finally:
        for process in processes:
            stop(process)
        webhook.server.shutdown()
        hub.stop()


def diagnosis(prometheus: str, acked: list[int], refused: list[str]) -> str:
    """What each hop saw, for a failure message that says which hop stopped."""
    expr = "sum by (stack_name) (rate(opencode_errors_total[5m]))"
    parts = [f"{len(acked)} events acked, refused: {refused[:5]}"]
    for path, params in (
        ("/api/v1/query", {"query": expr}),
        ("/api/v1/query", {"query": "opencode_errors_total"}),
        ("/api/v1/targets", {}),
        ("/api/v1/alerts", {}),
    ):
        try:
            answer = httpx.get(f"{prometheus}{path}", params=params, timeout=5).text
        except httpx.HTTPError as error:
            answer = repr(error)
        parts.append(f"{path} {params}: {answer[:600]}")
    return "\n".join(parts)


def test_an_exported_rule_fires_through_the_shipped_alertmanager(
    stack: tuple[HubProcess, Webhook, str],
) -> None:
    hub, webhook, prometheus = stack
    done = threading.Event()

    acked: list[int] = []
    refused: list[str] = []

    def errors() -> None:
        # A slow or refused request is recorded, not raised: a sender thread that dies
        # silently would leave the counter flat and the rule quiet for the wrong reason.
        with hub.client() as client:
            n = 0
            while not done.is_set():
                n += 1
                event = {
                    "timestamp": time.time_ns(),
                    "stack_name": "neighbour-stack",
                    "event_type": "error",
                    "message": f"upstream timeout {n}",
                    "data": {"error_code": "E_TIMEOUT"},
                }
                try:
                    status = client.post("/v1/events", json=[event]).status_code
                except httpx.HTTPError as error:
                    refused.append(repr(error))
                else:
                    (acked if status == 200 else refused).append(status)
                done.wait(0.1)

    sender = threading.Thread(target=errors, daemon=True)
    sender.start()
    try:
        # Prometheus scrapes the hub with the read key: the target is up.
        def scraping() -> bool:
            answer = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()
            targets = answer["data"]["activeTargets"]
            return bool(targets) and targets[0]["health"] == "up"

        wait_until(scraping, timeout=30, interval=0.5)

        def delivered() -> dict[str, Any] | None:
            for body in webhook.bodies:
                if "HighErrorRate" in json.dumps(body):
                    return body
            return None

        try:
            body = wait_until(delivered, timeout=90, interval=0.5)
        except TimeoutError:
            pytest.fail(f"no HighErrorRate notification; {diagnosis(prometheus, acked, refused)}")
    finally:
        done.set()
        sender.join(timeout=10)
    assert acked and not refused, (len(acked), refused[:5])
    text = json.dumps(body)
    # Routed as the hub's tree routes a warning: the default #ai-platform-alerts channel.
    assert body["channel"] == "#ai-platform-alerts"
    assert "neighbour-stack" in text
