"""Cross-protocol mistakes get a hint, not silence: an OTLP export on the native route, JSON
declared as protobuf (answered readably), a Loki push that names no stack, and Loki
timestamps in seconds or milliseconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacklens.testing import in_process_hub


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Any]:
    with in_process_hub(tmp_path / "data") as (_, test_client):
        yield test_client


@pytest.mark.parametrize(
    ("key", "path"),
    [("resourceSpans", "/v1/traces"), ("resourceLogs", "/v1/logs"),
     ("resource_metrics", "/v1/metrics")],
)  # fmt: skip
def test_an_otlp_export_on_the_native_route_points_at_its_route(
    client: Any, key: str, path: str
) -> None:
    answer = client.post("/v1/events", json={key: [{"resource": {}}]})
    assert answer.status_code == 400
    (refused,) = answer.json()["rejected"]
    assert refused["error"] == (
        f"this is an OTLP/JSON export ({key}), not a native event: post it to {path}"
    )


def test_json_declared_as_protobuf_gets_a_readable_otlp_answer(client: Any) -> None:
    answer = client.post(
        "/v1/traces",
        content=b'{"resourceSpans": []}',
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/json")
    assert (
        "the body is JSON but Content-Type says application/x-protobuf"
        in (answer.json()["message"])
    )


def test_json_declared_as_protobuf_on_loki_says_so(client: Any) -> None:
    answer = client.post(
        "/loki/api/v1/push",
        content=b'{"streams": []}',
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert answer.status_code == 400
    assert "the body is JSON but Content-Type says application/x-protobuf" in answer.text


def _push(client: Any, labels: dict[str, str], ts: int, **headers: str) -> Any:
    stream = {"stream": labels, "values": [[str(ts), "hello"]]}
    return client.post("/loki/api/v1/push", json={"streams": [stream]}, headers=headers)


def test_a_loki_push_with_no_stack_mentions_the_tenant_header(client: Any) -> None:
    answer = _push(client, {"app": "web"}, time.time_ns())
    assert answer.status_code == 400
    assert "X-Scope-OrgID" in answer.text and "stack_name label" in answer.text
    # With the tenant header the same push is stored.
    assert (
        _push(client, {"app": "web"}, time.time_ns(), **{"X-Scope-OrgID": "web"}).status_code == 204
    )


@pytest.mark.parametrize(
    ("scale", "unit"), [(10**9, "seconds"), (10**6, "milliseconds"), (10**3, "microseconds")]
)
def test_loki_timestamps_in_a_coarser_unit_are_called_out(
    client: Any, scale: int, unit: str
) -> None:
    answer = _push(client, {"stack_name": "web"}, time.time_ns() // scale)
    assert answer.status_code == 400
    assert f"it looks like {unit}" in answer.text


def test_an_old_timestamp_in_nanoseconds_gets_no_unit_hint(client: Any) -> None:
    answer = _push(client, {"stack_name": "web"}, time.time_ns() - 30 * 86400 * 10**9)
    assert answer.status_code == 400 and "too old" in answer.text
    assert "looks like" not in answer.text
