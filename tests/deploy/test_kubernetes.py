"""The Kustomize manifests under deploy/kubernetes: every overlay renders (``kubectl
kustomize``, Debian's kubernetes-client), every built-in object validates against the
Kubernetes schemas (``kubernetes-validate``), the prometheus-operator objects have their
CRDs' shape, the PrometheusRule holds the rules the hub exports (``promtool`` accepts
them), and the generated files are current. The scale-out overlay runs several replicas,
each on its own volume, with the shared URLs and keys from one Secret the header has the
operator create, and a PodDisruptionBudget."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from stacklens.store.urls import parse_store_url
from stacklens.testing import require_binary

KUBE = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
OVERLAYS = sorted(p.parent.name for p in (KUBE / "overlays").glob("*/kustomization.yaml"))
KUBECTL = require_binary("kubectl", package="kubernetes-client")
KUBERNETES_VERSION = "1.30.0"


def render(overlay: str) -> list[dict[str, Any]]:
    answer = subprocess.run(
        [KUBECTL, "kustomize", str(KUBE / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    return [doc for doc in yaml.safe_load_all(answer.stdout) if doc]


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["kind"]: obj for obj in objects}


def test_overlays() -> None:
    assert OVERLAYS == ["scale-out", "single-node"]


#: The built-in kinds each overlay renders besides the StatefulSet, Service and ConfigMap.
OVERLAY_KINDS = {"single-node": {"Secret"}, "scale-out": {"PodDisruptionBudget"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_objects_validate_against_the_kubernetes_schemas(overlay: str) -> None:
    import kubernetes_validate

    objects = render(overlay)
    built_in = [o for o in objects if not o["apiVersion"].startswith("monitoring.coreos.com")]
    expected = {"StatefulSet", "Service", "ConfigMap"} | OVERLAY_KINDS[overlay]
    assert {o["kind"] for o in built_in} >= expected
    for obj in built_in:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_hub_pod_is_probed_sized_and_unprivileged() -> None:
    objects = by_kind(render("single-node"))
    pod = objects["StatefulSet"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["requests"]["memory"] == "512Mi"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/var/lib/stacklens" in mounts
    claims = objects["StatefulSet"]["spec"]["volumeClaimTemplates"]
    assert claims[0]["metadata"]["name"] == "data"
    assert container["envFrom"][0]["secretRef"]["name"] == objects["Secret"]["metadata"]["name"]
    # Every object lands in the overlay's namespace, and the Service selects the pod.
    assert all(
        o["metadata"].get("namespace") == "stacklens"
        for o in objects.values()
        if o["kind"] != "Namespace"
    )
    pod_labels = objects["StatefulSet"]["spec"]["template"]["metadata"]["labels"]
    selector = objects["Service"]["spec"]["selector"]
    assert selector.items() <= pod_labels.items()


# The fields of the prometheus-operator CRDs (monitoring.coreos.com/v1) that we use.
SERVICE_MONITOR_ENDPOINT = {
    "port", "path", "interval", "scheme", "authorization", "bearerTokenSecret", "tlsConfig",
    "scrapeTimeout", "relabelings", "metricRelabelings", "honorLabels",
}  # fmt: skip
RULE_FIELDS = {"alert", "record", "expr", "for", "labels", "annotations", "keep_firing_for"}


def test_service_monitor_has_the_crd_shape_and_selects_the_service() -> None:
    objects = by_kind(render("single-node"))
    monitor = objects["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor["spec"]) <= {"selector", "endpoints", "namespaceSelector", "jobLabel"}
    service = objects["Service"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert set(endpoint) <= SERVICE_MONITOR_ENDPOINT
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # OTLP/gRPC: a named container port the Service forwards, marked as gRPC.
    grpc = {p["name"]: p for p in service["spec"]["ports"]}["otlp-grpc"]
    assert (grpc["port"], grpc["appProtocol"]) == (4317, "grpc")
    (container,) = objects["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    assert {"name": "otlp-grpc", "containerPort": 4317} in container["ports"]
    credentials = endpoint["authorization"]["credentials"]
    assert set(credentials) == {"name", "key"}


def test_prometheus_rule_has_the_crd_shape_and_promtool_accepts_it(tmp_path: Path) -> None:
    rule = by_kind(render("single-node"))["PrometheusRule"]
    assert set(rule["spec"]) == {"groups"}
    for group in rule["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit", "partial_response_strategy"}
        for item in group["rules"]:
            assert set(item) <= RULE_FIELDS, item
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    promtool = require_binary("promtool", package="prometheus")
    check = subprocess.run(
        [promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "StackUnhealthy" in rules_file.read_text()


def test_grafana_dashboards_config_map_is_labelled_for_the_sidecar() -> None:
    config_map = next(
        o
        for o in render("single-node")
        if o["kind"] == "ConfigMap" and "grafana" in o["metadata"]["name"]
    )
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboards = sorted((KUBE.parent / "grafana" / "dashboards").glob("*.json"))
    assert sorted(config_map["data"]) == [p.name for p in dashboards]


def test_generated_manifests_are_current() -> None:
    spec = importlib.util.spec_from_file_location("kube_generate", KUBE / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path, build in module.GENERATED.items():
        assert path.read_text() == build(), f"stale {path.name}: run deploy/kubernetes/generate.py"


SCALE_OUT = KUBE / "overlays" / "scale-out" / "kustomization.yaml"
SHARED_KEYS = {
    "STACKLENS_STORE_URL",
    "STACKLENS_METADATA_URL",
    "STACKLENS_SECRET_KEY",
    "STACKLENS_BOOTSTRAP_ADMIN_KEY",
}


def test_scale_out_runs_replicas_each_on_its_own_volume() -> None:
    objects = render("scale-out")
    kinds = by_kind(objects)
    sts = kinds["StatefulSet"]["spec"]
    assert sts["replicas"] == 3
    assert sts["podManagementPolicy"] == "Parallel"
    # A claim per replica, mounted as the data directory (the spool).
    (claim,) = sts["volumeClaimTemplates"]
    (container,) = sts["template"]["spec"]["containers"]
    data = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert data[claim["metadata"]["name"]] == "/var/lib/stacklens"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STACKLENS_DATA_DIR"] == "/var/lib/stacklens"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/ready"
    # The Service balances both ports over the replicas' pods.
    service = kinds["Service"]
    pod_labels = sts["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    ports = {p["port"]: p["targetPort"] for p in service["spec"]["ports"]}
    assert ports == {4320: "http", 4317: "otlp-grpc"}
    assert "sessionAffinity" not in service["spec"]
    # One replica at a time may be drained, and the budget covers the hub's pods.
    pdb = kinds["PodDisruptionBudget"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    assert 0 < pdb["maxUnavailable"] < sts["replicas"]
    assert all(
        o["metadata"].get("namespace") == "stacklens" for o in objects if o["kind"] != "Namespace"
    )


def test_scale_out_takes_the_shared_settings_from_the_secret_its_header_creates() -> None:
    objects = render("scale-out")
    (container,) = by_kind(objects)["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    (source,) = container["envFrom"]
    name = source["secretRef"]["name"]
    assert source["secretRef"].get("optional") is not True  # no Secret, no start
    # The Secret holds passwords: it is created by hand, not shipped (nor the base's
    # bootstrap Secret with its empty key).
    assert not [o for o in objects if o["kind"] == "Secret"]
    header = SCALE_OUT.read_text()
    command = header[header.index(f"create secret generic {name}") :].split("kubectl apply")[0]
    literals = dict(
        line.split("--from-literal=", 1)[1].rstrip(" \\").split("=", 1)
        for line in command.splitlines()
        if "--from-literal=" in line
    )
    assert set(literals) == SHARED_KEYS
    store = parse_store_url(literals["STACKLENS_STORE_URL"].strip("'"))
    assert (store.scheme, store.port, store.database) == ("clickhouse", 8123, "stacklens")
    metadata = make_url(literals["STACKLENS_METADATA_URL"].strip("'"))
    assert (metadata.drivername, metadata.port) == ("postgresql+psycopg", 5432)
    assert parse_store_url(literals["STACKLENS_STORE_URL"].strip("'") + "?cluster=1").clustered
    assert "?cluster=1" in header
