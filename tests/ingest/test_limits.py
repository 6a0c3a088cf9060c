"""Per-request cost bounds: too many items 413, too many attributes or too deep 400."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from stacklens.testing import in_process_hub
from stacklens.testing.otlp import json_span, traces_body

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(tmp_path: Any) -> Iterator[Any]:
    with in_process_hub(
        tmp_path / "data", max_items_per_request=5, max_attributes_per_item=4, max_attribute_depth=2
    ) as (_, test_client):
        yield test_client


def spans(count: int, attributes: list[dict[str, Any]] | None = None) -> bytes:
    now = time.time_ns()
    return traces_body([json_span(i, now, attributes) for i in range(count)], "limits")


def test_too_many_spans_is_413_naming_the_setting(client: Any) -> None:
    assert client.post("/v1/traces", content=spans(5), headers=JSON).status_code == 200
    response = client.post("/v1/traces", content=spans(6), headers=JSON)
    assert response.status_code == 413
    assert "STACKLENS_MAX_ITEMS_PER_REQUEST" in response.json()["message"]


def test_too_many_attributes_and_too_deep_are_400(client: Any) -> None:
    five = [{"key": f"k{i}", "value": {"stringValue": "v"}} for i in range(5)]
    response = client.post("/v1/traces", content=spans(1, five), headers=JSON)
    assert response.status_code == 400
    assert "STACKLENS_MAX_ATTRIBUTES_PER_ITEM" in response.json()["message"]
    deep: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(3):
        deep = {"kvlistValue": {"values": [{"key": "k", "value": deep}]}}
    response = client.post(
        "/v1/traces", content=spans(1, [{"key": "d", "value": deep}]), headers=JSON
    )
    assert response.status_code == 400
    assert "STACKLENS_MAX_ATTRIBUTE_DEPTH" in response.json()["message"]


def test_loki_and_native_item_bounds(client: Any) -> None:
    now = str(time.time_ns())
    push = {"streams": [{"stream": {"service": "x"}, "values": [[now, "l"]] * 6}]}
    response = client.post("/loki/api/v1/push", json=push, headers={"X-Scope-OrgID": "limits"})
    assert response.status_code == 413 and "STACKLENS_MAX_ITEMS_PER_REQUEST" in response.text
    event = {"timestamp": "2026-01-10T12:00:00Z", "event_type": "log", "stack_name": "limits"}
    response = client.post("/v1/events", json=[event] * 6)
    assert response.status_code == 413 and "STACKLENS_MAX_ITEMS_PER_REQUEST" in response.text


def test_native_event_posted_to_otlp_traces_points_at_v1_events(client: Any) -> None:
    event = {"timestamp": "2026-01-10T12:00:00Z", "event_type": "log", "stack_name": "limits"}
    response = client.post("/v1/traces", json=event)
    assert response.status_code == 400
    assert "/v1/events" in response.json()["message"]
