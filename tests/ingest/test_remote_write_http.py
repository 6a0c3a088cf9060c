"""``POST /prometheus/api/v1/write`` on an in-process hub: samples stored as metric points
with their labels, the stack rules, stale markers, and the answers remote-write senders
read (204 / 400 / 413 / 415 / 401 / 403 / 503 with Retry-After)."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cramjam
import pytest

from stacklens.testing import in_process_hub
from stacklens.testing.remote_write import HEADERS, STALE_NAN, write_body, write_request_bytes

T0_MS = 1_796_000_000_000  # 2026-11-29T07:33:20Z, inside the test hubs' retention
ROUTE = "/prometheus/api/v1/write"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    with in_process_hub(tmp_path / "d", loader_interval_s=3600) as running:
        running[0].loader.stop()
        running[0].metrics_loader.stop()
        yield running


def _post(client: Any, body: bytes, **headers: str) -> Any:
    return client.post(ROUTE, content=body, headers={**HEADERS, **headers})


def _points(hub: Any, name: str, stack: str | None = None) -> list[dict[str, Any]]:
    hub.metrics_loader.run_once()
    stacks = None if stack is None else (stack,)
    points = hub.store.query_metric_points(
        name=name, stacks=stacks, since_ns=None, until_ns=None, limit=1000
    )
    return sorted(points, key=lambda p: (p["timestamp_ns"], json.dumps(_attrs(p), sort_keys=True)))


def _attrs(point: dict[str, Any]) -> dict[str, Any]:
    value = point["attributes"]
    return json.loads(value) if isinstance(value, str) else dict(value)


GPU = {"__name__": "gpu_utilization_percent", "job": "dcgm", "instance": "gpu-node:9400"}


def test_samples_become_metric_points_with_every_label(hub: tuple[Any, Any]) -> None:
    store_hub, client = hub
    body = write_body(
        [
            ({**GPU, "gpu_id": "0"}, [(T0_MS, 93.5), (T0_MS + 15_000, 95.0)]),
            ({**GPU, "gpu_id": "1"}, [(T0_MS, 12.0)]),
            (
                {"__name__": "container_fs_writes_total", "job": "cadvisor", "name": "gw"},
                [(T0_MS, 4096.0)],
            ),
        ]
    )
    response = _post(client, body, **{"X-Stack-Name": "gpu-farm"})
    assert response.status_code == 204, response.text
    gpu = _points(store_hub, "gpu_utilization_percent", "gpu-farm")
    assert [(p["timestamp_ns"], p["value"], _attrs(p)["gpu_id"]) for p in gpu] == [
        (T0_MS * 1_000_000, 93.5, "0"),
        (T0_MS * 1_000_000, 12.0, "1"),
        ((T0_MS + 15_000) * 1_000_000, 95.0, "0"),
    ]
    first = gpu[0]
    assert _attrs(first) == {"gpu_id": "0", "instance": "gpu-node:9400", "job": "dcgm"}
    assert first["service"] == "dcgm"  # job, as the OTel Prometheus receiver maps it
    assert first["kind"] == "gauge" and first["stack_name"] == "gpu-farm"
    (counter,) = _points(store_hub, "container_fs_writes_total")
    assert (counter["kind"], counter["monotonic"], counter["temporality"]) == (
        "sum",
        True,
        "cumulative",
    )
    assert _attrs(counter) == {"job": "cadvisor", "name": "gw"}


def test_a_resent_batch_is_stored_once(hub: tuple[Any, Any]) -> None:
    store_hub, client = hub
    body = write_body([({**GPU, "gpu_id": "0"}, [(T0_MS, 50.0)])])
    for _ in range(3):  # Prometheus resends a batch whose answer it did not get
        assert _post(client, body, **{"X-Stack-Name": "a"}).status_code == 204
    assert len(_points(store_hub, "gpu_utilization_percent")) == 1


def test_stack_from_label_key_or_header(hub: tuple[Any, Any]) -> None:
    store_hub, client = hub
    labelled = write_body([({**GPU, "stack_name": "from-label"}, [(T0_MS, 1.0)])])
    assert _post(client, labelled).status_code == 204
    (point,) = _points(store_hub, "gpu_utilization_percent", "from-label")
    assert "stack_name" not in _attrs(point)  # it is the point's stack column

    _, bound = store_hub.keyring.create("ingest", stack="owned")
    plain = write_body([({**GPU, "gpu_id": "7"}, [(T0_MS, 2.0)])])
    assert _post(client, plain, **{"X-API-Key": bound}).status_code == 204
    assert [p["value"] for p in _points(store_hub, "gpu_utilization_percent", "owned")] == [2.0]

    nowhere = _post(client, plain)
    assert nowhere.status_code == 400 and "no stack" in nowhere.text


def test_a_bound_key_cannot_write_another_stack(hub: tuple[Any, Any]) -> None:
    store_hub, client = hub
    _, bound = store_hub.keyring.create("ingest", stack="owned")
    other_label = write_body([({**GPU, "stack_name": "victim"}, [(T0_MS, 1.0)])])
    response = _post(client, other_label, **{"X-API-Key": bound})
    assert response.status_code == 403 and "owned" in response.text
    plain = write_body([(GPU, [(T0_MS, 1.0)])])
    header = _post(client, plain, **{"X-API-Key": bound, "X-Stack-Name": "victim"})
    assert header.status_code == 403
    assert _points(store_hub, "gpu_utilization_percent") == []


def test_stale_marker_is_the_series_end_not_a_value(hub: tuple[Any, Any]) -> None:
    store_hub, client = hub
    body = write_body(
        [
            ({**GPU, "gpu_id": "0"}, [(T0_MS, 97.0), (T0_MS + 15_000, STALE_NAN)]),
            ({**GPU, "gpu_id": "1"}, [(T0_MS, float("nan"))]),
        ]
    )
    assert _post(client, body, **{"X-Stack-Name": "s"}).status_code == 204
    points = _points(store_hub, "gpu_utilization_percent")
    by_gpu = {(_attrs(p)["gpu_id"], p["timestamp_ns"] // 1_000_000): p for p in points}
    assert (by_gpu[("0", T0_MS)]["kind"], by_gpu[("0", T0_MS)]["value"]) == ("gauge", 97.0)
    stale = by_gpu[("0", T0_MS + 15_000)]
    assert (stale["kind"], stale.get("value")) == ("stale", None)
    nan = by_gpu[("1", T0_MS)]
    assert (nan["kind"], nan.get("value")) == ("gauge", None)  # a plain NaN is not a stale marker


def test_metadata_only_and_empty_requests_are_accepted(hub: tuple[Any, Any]) -> None:
    _, client = hub
    # Prometheus sends metric metadata in requests of their own (field 3).
    metadata_only = bytes(cramjam.snappy.compress_raw(b"\x1a\x05\x08\x01\x12\x01x"))
    assert _post(client, metadata_only, **{"X-Stack-Name": "s"}).status_code == 204
    assert _post(client, write_body([]), **{"X-Stack-Name": "s"}).status_code == 204


def test_refused_series_are_named_and_the_rest_stored(hub: tuple[Any, Any]) -> None:
    store_hub, client = hub
    body = write_body(
        [
            ({"job": "x"}, [(T0_MS, 1.0)]),
            ({"__name__": "ok_metric", "bad-name": "v"}, [(T0_MS, 1.0)]),
            ({"__name__": "ok_metric", "stack_name": "Not A Stack"}, [(T0_MS, 1.0)]),
            ({"__name__": "ok_metric", "job": "kept"}, [(T0_MS, 5.0)]),
            ({"__name__": "ok_metric", "job": "ahead"}, [(T0_MS + 100 * 86_400_000, 1.0)]),
        ]
    )
    response = _post(client, body, **{"X-Stack-Name": "s"})
    assert response.status_code == 400  # non-retryable: resending cannot change it
    assert "1 samples stored; 4 refused" in response.text
    assert "more than 24 h ahead" in response.text
    assert "no __name__" in response.text and "'bad-name'" in response.text
    assert "stack_name label must match" in response.text
    assert [p["value"] for p in _points(store_hub, "ok_metric")] == [5.0]


def test_native_histograms_are_refused_by_name(hub: tuple[Any, Any]) -> None:
    _, client = hub
    raw = write_request_bytes([({"__name__": "latency_seconds"}, [])])
    # TimeSeries field 4 (histograms): an opaque embedded message.
    series = raw[2:] + b"\x22\x02\x08\x01"
    body = bytes(cramjam.snappy.compress_raw(b"\x0a" + bytes([len(series)]) + series))
    response = _post(client, body, **{"X-Stack-Name": "s"})
    assert response.status_code == 400 and "native histograms are not stored" in response.text


@pytest.mark.parametrize(
    ("headers", "body", "status", "words"),
    [
        ({}, b"not snappy at all", 400, "snappy"),
        ({}, bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff")), 400, "WriteRequest"),
        ({"Content-Encoding": "gzip"}, b"x", 415, "snappy"),
        ({"Content-Type": "application/json"}, b"{}", 415, "x-protobuf"),
        (
            {"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"},
            b"x",
            415,
            "remote write 1.0",
        ),
    ],
)
def test_unreadable_bodies_are_4xx(
    hub: tuple[Any, Any], headers: dict[str, str], body: bytes, status: int, words: str
) -> None:
    _, client = hub
    response = _post(client, body, **{"X-Stack-Name": "s", **headers})
    assert response.status_code == status and words in response.text


def test_request_bounds_name_the_limit(tmp_path: Path) -> None:
    with in_process_hub(tmp_path / "d", max_items_per_request=10, max_attributes_per_item=5) as (
        _,
        client,
    ):
        many = write_body([(GPU, [(T0_MS + i, 1.0) for i in range(11)])])
        response = _post(client, many, **{"X-Stack-Name": "s"})
        assert response.status_code == 413 and "max_items_per_request" in response.text
        wide = write_body([({**GPU, **{f"l{i}": "v" for i in range(5)}}, [(T0_MS, 1.0)])])
        response = _post(client, wide, **{"X-Stack-Name": "s"})
        assert response.status_code == 400 and "max_attributes_per_item" in response.text


def test_keys_are_checked_as_everywhere(hub: tuple[Any, Any]) -> None:
    store_hub, client = hub
    body = write_body([(GPU, [(T0_MS, 1.0)])])
    missing = _post(client, body, **{"X-API-Key": ""})
    assert missing.status_code == 401
    _, reader = store_hub.keyring.create("read")
    assert _post(client, body, **{"X-API-Key": reader}).status_code == 403
    _, ingest = store_hub.keyring.create("ingest")
    bearer = _post(
        client,
        body,
        **{"X-API-Key": "", "Authorization": f"Bearer {ingest}", "X-Stack-Name": "s"},
    )
    assert bearer.status_code == 204, "Prometheus sends the key as a bearer token"


def test_backlog_is_503_with_retry_after(tmp_path: Path) -> None:
    with in_process_hub(tmp_path / "d", max_backlog_bytes=2000, loader_interval_s=3600) as (
        store_hub,
        client,
    ):
        store_hub.loader.stop()
        store_hub.metrics_loader.stop()
        event = {
            "timestamp": "2026-11-29T07:00:00Z",
            "event_type": "message",
            "stack_name": "s",
            "message": "x" * 300,
        }
        statuses = [client.post("/v1/events", json=[event]).status_code for _ in range(20)]
        assert statuses[0] == 200 and statuses[-1] == 503, statuses
        response = _post(client, write_body([(GPU, [(T0_MS, 1.0)])]), **{"X-Stack-Name": "s"})
        assert response.status_code == 503
        assert response.headers["Retry-After"].isdigit()


def test_decoded_in_a_worker_process_the_same(tmp_path: Path) -> None:
    """With ingest workers the decoder runs in another process (pickled by name)."""
    with in_process_hub(tmp_path / "d", ingest_workers=1, loader_interval_s=3600) as (
        store_hub,
        client,
    ):
        body = write_body([({**GPU, "gpu_id": "3"}, [(T0_MS, 88.0), (T0_MS + 1, STALE_NAN)])])
        assert _post(client, body, **{"X-Stack-Name": "w"}).status_code == 204
        bad = _post(client, b"junk", **{"X-Stack-Name": "w"})
        assert bad.status_code == 400 and "snappy" in bad.text
        points = _points(store_hub, "gpu_utilization_percent", "w")
        assert [(p["kind"], p.get("value")) for p in points] == [("gauge", 88.0), ("stale", None)]


def test_exemplars_are_ignored_and_their_samples_stored(hub: tuple[Any, Any]) -> None:
    store_hub, client = hub
    raw = write_request_bytes([({"__name__": "req_seconds_bucket", "le": "0.5"}, [(T0_MS, 3.0)])])
    # TimeSeries field 3 (exemplars): trace_id label, value 0.42, timestamp T0_MS.
    label = b"\x0a\x08trace_id\x12\x04abcd"
    exemplar = b"\x0a" + bytes([len(label)]) + label + b"\x11" + struct.pack("<d", 0.42)
    series = raw[2:] + b"\x1a" + bytes([len(exemplar)]) + exemplar
    body = bytes(cramjam.snappy.compress_raw(b"\x0a" + bytes([len(series)]) + series))
    assert _post(client, body, **{"X-Stack-Name": "s"}).status_code == 204
    (point,) = _points(store_hub, "req_seconds_bucket")
    assert point["value"] == 3.0 and _attrs(point) == {"le": "0.5"}
