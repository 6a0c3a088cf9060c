"""Issue 12: user identifiers are pseudonymized wherever they arrive; e-mail addresses
in free text follow the stack's policy (default: pseudonymized)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from stacklens.privacy import PrivacyPolicy, Redactor
from stacklens.privacy.identity import is_user_key
from stacklens.testing import in_process_hub

KEY = b"identity-test-key-0123456789abcdef"


def _event(**fields: Any) -> dict[str, Any]:
    return {"event_id": "e1", "stack_name": "s", "event_type": "log", **fields}


@pytest.mark.parametrize(
    "key", ["user_id", "userId", "user.id", "enduser.id", "langfuse.user.id", "user.email"]
)
def test_user_keys(key: str) -> None:
    assert is_user_key(key)


@pytest.mark.parametrize("key", ["user_id_present", "userAgent", "id", "users", "user.role"])
def test_not_user_keys(key: str) -> None:
    assert not is_user_key(key)


def test_user_id_attribute_gets_the_native_pseudonym() -> None:
    redactor = Redactor(KEY)
    native = redactor.redact_event(_event(user_id="alice")).event["user_id"]
    event = redactor.redact_event(
        _event(
            attributes={"user_id": "alice", "enduser.id": "alice"},
            data={"metadata": {"user_id": "alice", "run": 3}, "langfuse.user.id": 42},
        )
    ).event
    assert native.startswith("u_")
    assert event["attributes"] == {"user_id": native, "enduser.id": native}
    assert event["data"]["metadata"] == {"user_id": native, "run": 3}
    assert event["data"]["langfuse.user.id"] == redactor.pseudonymize_user("42")


def test_metric_attributes_follow_the_stacks_policy() -> None:
    redactor = Redactor(KEY, policies={"keep": PrivacyPolicy(pseudonymize_users=False)})
    attributes = {"user.id": "alice", "route": "/chat"}
    hidden, _ = redactor.redact_value(attributes, "attributes", stack="bot")
    kept, _ = redactor.redact_value(attributes, "attributes", stack="keep")
    assert hidden == {"user.id": redactor.pseudonymize_user("alice"), "route": "/chat"}
    assert kept == attributes
    assert redactor.redact_value(attributes)[0] == attributes  # no stack: secrets only


def test_user_ids_kept_when_the_policy_says_so() -> None:
    redactor = Redactor(KEY, default_policy=PrivacyPolicy(pseudonymize_users=False))
    event = redactor.redact_event(_event(attributes={"user_id": "alice"})).event
    assert event["attributes"] == {"user_id": "alice"}


def test_email_in_a_message_is_pseudonymized_by_default() -> None:
    redactor = Redactor(KEY)
    event = redactor.redact_event(
        _event(message="password reset sent to Alice.Smith+ai@example.co.uk today")
    ).event
    pseudonym = redactor.pseudonymize_user("Alice.Smith+ai@example.co.uk")
    assert event["message"] == f"password reset sent to {pseudonym} today"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("redact", "mail bob@example.com"),
        ("keep", "mail bob@example.com"),
    ],
)
def test_email_policy(mode: str, expected: str) -> None:
    policy = PrivacyPolicy.from_dict({"emails": mode})
    redactor = Redactor(KEY, default_policy=policy)
    result = redactor.redact_event(_event(message="mail bob@example.com"))
    if mode == "redact":
        assert result.event["message"] == "mail [REDACTED:email]"
        assert [f.rule for f in result.findings] == ["email"]
    else:
        assert result.event["message"] == expected and result.findings == []


def test_the_same_string_follows_each_stacks_policy() -> None:
    # The clean-text cache is shared: a kept address must not be served to a stack
    # whose policy pseudonymizes.
    redactor = Redactor(
        KEY,
        default_policy=PrivacyPolicy(),
        policies={"keep": PrivacyPolicy(emails="keep")},
    )
    text = "from ops@example.com"
    kept = redactor.redact_event({**_event(message=text), "stack_name": "keep"}).event
    hidden = redactor.redact_event(_event(message=text)).event
    assert kept["message"] == text
    assert hidden["message"] != text and "ops@example.com" not in hidden["message"]


def _otlp_log(now: int) -> bytes:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    kv = resource_logs.resource.attributes.add()
    kv.key, kv.value.string_value = "stack.name", "ids"
    record = resource_logs.scope_logs.add().log_records.add()
    record.time_unix_nano = now
    record.body.string_value = "login by carol@example.org"
    for key in ("user_id", "enduser.id"):
        attribute = record.attributes.add()
        attribute.key, attribute.value.string_value = key, "carol"
    return request.SerializeToString()


def _otlp_metric(now: int) -> bytes:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    kv = resource_metrics.resource.attributes.add()
    kv.key, kv.value.string_value = "stack.name", "ids"
    metric = resource_metrics.scope_metrics.add().metrics.add()
    metric.name = "requests"
    point = metric.gauge.data_points.add()
    point.time_unix_nano, point.as_double = now, 1.0
    attribute = point.attributes.add()
    attribute.key, attribute.value.string_value = "user.id", "carol"
    return request.SerializeToString()


def test_user_ids_and_emails_through_every_protocol(tmp_path: Path) -> None:
    now = time.time_ns()
    with in_process_hub(tmp_path / "data", loader_interval_s=3600) as (hub, client):
        response = client.post(
            "/v1/logs", content=_otlp_log(now), headers={"Content-Type": "application/x-protobuf"}
        )
        assert response.status_code == 200, response.text
        loki = {
            "streams": [
                {
                    "stream": {"service": "edge", "user_id": "carol"},
                    "values": [[str(now), "hello from carol@example.org"]],
                }
            ]
        }
        assert (
            client.post(
                "/loki/api/v1/push", json=loki, headers={"X-Scope-OrgID": "ids"}
            ).status_code
            == 204
        )
        native = {
            "event_id": "lc-1",
            "timestamp": "2024-11-22T10:00:00Z",
            "stack_name": "ids",
            "event_type": "llm_call",
            "user_id": "carol",
            "data": {"model": "gpt-4o", "metadata": {"user_id": "carol"}},
            "attributes": {"langchain.metadata": json.dumps({"user_id": "carol"})},
        }
        assert client.post("/v1/events", json=[native]).status_code == 200
        response = client.post(
            "/v1/metrics",
            content=_otlp_metric(now),
            headers={"Content-Type": "application/x-protobuf"},
        )
        assert response.status_code == 200, response.text
        hub.loader.run_once()
        hub.metrics_loader.run_once()
        pseudonym = hub.redactor.pseudonymize_user("carol")
    con = duckdb.connect(str(tmp_path / "data" / "events.duckdb"), read_only=True)
    rows = con.execute("SELECT * FROM events").fetchall()
    points = con.execute("SELECT * FROM metric_points").fetchall()
    text = "\n".join(str(row) for row in rows + points)
    assert len(rows) == 3 and len(points) == 1
    assert "carol" not in text
    assert text.count(pseudonym) >= 6
