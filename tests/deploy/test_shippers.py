"""The shipper configs under deploy/shippers. Promtail, Fluent Bit, Alloy and the
OpenTelemetry Collector cannot be installed here, so each config is checked by format
(it parses; URLs, headers and labels are the ones the hub serves), and the request each
one implies is sent to a real hub: the same path, the same auth and tenant headers, the
same labels. The OTLP exporter the Collector uses is the OTel SDK's, run for real."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from stacklens.testing import HubProcess, wait_until

SHIPPERS = Path(__file__).resolve().parents[2] / "deploy" / "shippers"
LOKI_PUSH = "/loki/api/v1/push"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with HubProcess(tmp_path_factory.mktemp("shippers") / "data") as running:
        yield running


def expand(text: str, env: dict[str, str]) -> str:
    """``${VAR}`` and ``${env:VAR}`` as Promtail (-config.expand-env), Fluent Bit and the
    Collector expand them."""
    return re.sub(r"\$\{(?:env:)?([A-Z_]+)\}", lambda m: env[m.group(1)], text)


def fluent_bit_sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """Fluent Bit's classic format: ``[SECTION]`` then indented ``Key Value`` lines."""
    sections: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1], {}))
            continue
        assert raw.startswith((" ", "\t")), f"not indented under a section: {raw!r}"
        key, _, value = line.partition(" ")
        assert sections and value.strip(), raw
        sections[-1][1][key.lower()] = value.strip()
    return sections


def push_like_a_shipper(
    hub: HubProcess, *, headers: dict[str, str], labels: dict[str, str], line: str
) -> httpx.Response:
    stream = {"stream": labels, "values": [[str(time.time_ns()), line]]}
    return httpx.post(hub.url + LOKI_PUSH, json={"streams": [stream]}, headers=headers)


def stored_log(hub: HubProcess, marker: str) -> dict[str, Any]:
    with hub.client() as client:

        def find() -> dict[str, Any] | None:
            events = client.get(
                "/api/v1/events", params={"event_type": "log", "limit": 1000}
            ).json()["events"]
            return next((e for e in events if marker in (e.get("message") or "")), None)

        found: dict[str, Any] = wait_until(find, timeout=15)
        return found


def test_promtail_lifts_the_json_fields_and_pushes_to_the_hub(hub: HubProcess) -> None:
    env = {
        "STACKLENS_URL": hub.url,
        "STACKLENS_API_KEY": hub.admin_key,
        "STACK_NAME": "promtail-stack",
    }
    config = yaml.safe_load(expand((SHIPPERS / "promtail.yaml").read_text(), env))
    (client,) = config["clients"]
    assert client["url"] == hub.url + LOKI_PUSH
    stages = config["scrape_configs"][0]["pipeline_stages"]
    lifted = set(stages[0]["json"]["expressions"])
    assert {"level", "service", "trace_id", "user_id"} <= lifted
    assert {"level", "service", "trace_id", "user_id"} <= set(stages[1]["labels"])
    static_labels = {
        k: v for k, v in config["scrape_configs"][0]["static_configs"][0]["labels"].items()
        if not k.startswith("__")
    }  # fmt: skip
    marker = f"promtail-{time.time_ns()}"
    # Promtail sends the bearer token and the tenant header its client block names.
    answer = push_like_a_shipper(
        hub,
        headers={
            "Authorization": f"Bearer {client['bearer_token']}",
            "X-Scope-OrgID": client["tenant_id"],
        },
        labels={**static_labels, "level": "error", "service": "chat-api", "trace_id": "ab" * 16},
        line=f'{{"level":"error","message":"{marker}"}}',
    )
    assert answer.status_code == 204, answer.text
    log = stored_log(hub, marker)
    assert log["stack_name"] == "promtail-stack"
    assert log["level"] == "error" and log["service"] == "chat-api"
    assert log["trace_id"] == "ab" * 16


def test_fluent_bit_tails_the_jsonl_and_takes_the_docker_log_driver(hub: HubProcess) -> None:
    env = {
        "STACKLENS_HOST": "127.0.0.1",
        "STACKLENS_API_KEY": hub.admin_key,
        "STACK_NAME": "fb-stack",
    }
    sections = fluent_bit_sections(expand((SHIPPERS / "fluent-bit.conf").read_text(), env))
    inputs = {s["name"]: s for kind, s in sections if kind == "INPUT"}
    assert inputs["tail"]["path"].endswith("events.jsonl")
    assert inputs["forward"]["port"] == "24224"  # the Docker fluentd log driver's default
    (output,) = [s for kind, s in sections if kind == "OUTPUT"]
    assert output["name"] == "loki" and output["uri"] == LOKI_PUSH
    assert output["port"] == str(4320)
    header_name, _, header_value = output["header"].partition(" ")
    labels = dict(pair.strip().split("=", 1) for pair in output["labels"].split(","))
    parsers = fluent_bit_sections((SHIPPERS / "parsers.conf").read_text())
    assert {s["name"] for _, s in parsers} >= {inputs["tail"]["parser"]}
    marker = f"fluentbit-{time.time_ns()}"
    answer = push_like_a_shipper(
        hub,
        headers={header_name: header_value, "X-Scope-OrgID": output["tenant_id"]},
        labels=labels,
        line=f'{{"message":"{marker}"}}',
    )
    assert answer.status_code == 204, answer.text
    assert stored_log(hub, marker)["stack_name"] == "fb-stack"


def test_alloy_config_is_well_formed_and_names_the_push_api() -> None:
    text = (SHIPPERS / "alloy.river").read_text()
    code = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    assert code.count("{") == code.count("}") and code.count("[") == code.count("]")
    assert code.count('"') % 2 == 0
    blocks = re.findall(r'^([a-z_.]+) "([a-z_]+)" \{', code, re.MULTILINE)
    names = {f"{kind}.{label}" for kind, label in blocks}
    assert names == {
        "local.file_match.app_logs",
        "loki.source.file.app_logs",
        "loki.process.json_fields",
        "loki.write.stacklens",
    }
    # Every component it forwards to exists.
    for target in re.findall(r"forward_to\s*=\s*\[([^\]]+)\]", code):
        component = target.strip().rsplit(".", 1)[0]
        assert component in names, component
    assert 'env("STACKLENS_URL") + "/loki/api/v1/push"' in code
    assert 'bearer_token = env("STACKLENS_API_KEY")' in code


def test_otel_collector_forwards_with_the_exporter_it_names(hub: HubProcess) -> None:
    env = {"STACKLENS_URL": hub.url, "STACKLENS_API_KEY": hub.admin_key, "STACK_NAME": "otel-stack"}
    config = yaml.safe_load(expand((SHIPPERS / "otel-collector.yaml").read_text(), env))
    exporter = config["exporters"]["otlphttp/stacklens"]
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    for name, pipeline in config["service"]["pipelines"].items():
        assert name in {"traces", "logs", "metrics"}
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline[kind]:
                assert component in config[kind], component
    # The Collector's otlphttp exporter appends /v1/traces to its endpoint, as the SDK's does.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    resource_attributes = {
        a["key"]: a["value"] for a in config["processors"]["resource"]["attributes"]
    }
    provider = TracerProvider(
        resource=Resource.create({"service.name": "gateway", **resource_attributes})
    )
    provider.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(
                endpoint=exporter["endpoint"] + "/v1/traces", headers=exporter["headers"]
            )
        )
    )
    marker = f"collector-{time.time_ns()}"
    with provider.get_tracer("shipper-test").start_as_current_span(marker):
        pass
    provider.shutdown()
    with hub.client() as client:

        def find() -> dict[str, Any] | None:
            events = client.get("/api/v1/events", params={"limit": 1000}).json()["events"]
            return next((e for e in events if e.get("message") == marker), None)

        span = wait_until(find, timeout=15)
    assert span["stack_name"] == "otel-stack"


def test_logrotate_snippet_rotates_the_event_file() -> None:
    text = (SHIPPERS / "logrotate-stacklens-events").read_text()
    code = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert code[0] == "/var/log/opencode/events.jsonl {" and code[-1] == "}"
    directives = {line.split()[0] for line in code[1:-1]}
    assert {"daily", "rotate", "compress", "missingok"} <= directives
    assert "copytruncate" not in directives  # send --follow follows the rename
    logrotate = shutil.which("logrotate") or shutil.which("/usr/sbin/logrotate")
    assert logrotate, "Debian's logrotate parses it (installed by make test)"
    # Debug mode (-d) parses and plans without touching anything.
    check = subprocess.run(
        [logrotate, "-d", "-s", "/dev/null", str(SHIPPERS / "logrotate-stacklens-events")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0 and "error" not in check.stderr.lower(), check.stderr


def test_systemd_unit_is_valid() -> None:
    unit = SHIPPERS / "stacklens.service"
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian systemd) checks the unit"
    check = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    # The binary path does not exist on the test machine; everything else must be clean.
    problems = [
        line
        for line in check.stderr.splitlines()
        if line.strip() and "/opt/stacklens/bin/stacklens" not in line
    ]
    assert problems == [], check.stderr
    text = unit.read_text()
    assert "ExecStart=/opt/stacklens/bin/stacklens serve" in text
    assert "KillSignal=SIGTERM" in text
