"""Fuzzing the ingest and query endpoints: arbitrary input never yields a 5xx."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacklens.testing import in_process_hub

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=50)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "event_id",
        "timestamp",
        "stack_name",
        "event_type",
        "type",
        "stackName",
        "session_id",
        "user_id",
        "message",
        "level",
        "data",
        "attributes",
        "duration",
        "contentHash",
        "trace_id",
    ]
)
event_like = st.dictionaries(field_names, json_values, max_size=8) | st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(["log", "message", "llm_call", "tool_use"]),
        "timestamp": st.one_of(
            st.just("2026-01-10T12:00:00Z"), st.integers(), st.text(max_size=30)
        ),
        "stack_name": st.one_of(st.just("fuzz"), st.text(max_size=70)),
    },
    optional={
        "data": st.dictionaries(
            st.sampled_from(
                [
                    "tokens_in",
                    "cost_usd",
                    "model",
                    "success",
                    "content",
                    "command",
                    "args",
                    "url",
                    "file_path",
                ]
            ),
            json_values,
        ),
        "attributes": json_values,
    },
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with in_process_hub(tmp_path_factory.mktemp("fuzz") / "data", max_body_bytes=64 * 1024) as (
        _,
        client,
    ):
        yield client


@SETTINGS
@given(body=st.lists(event_like, max_size=6) | event_like | json_values)
def test_json_bodies_never_5xx(fuzz_client: Any, body: Any) -> None:
    response = fuzz_client.post("/v1/events", content=msgspec.json.encode(body))
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        answer = response.json()
        items = len(body) if isinstance(body, list) else 1
        assert answer["accepted"] + len(answer["rejected"]) == items


@SETTINGS
@given(
    raw=st.binary(max_size=2000),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/x-ndjson",
            "text/plain",
            "",
            "application/octet-stream",
            "multipart/form-data",
        ]
    ),
    encoding=st.sampled_from([None, "gzip", "deflate", "br", "identity", "GZIP"]),
    compress=st.booleans(),
)
def test_arbitrary_bytes_and_headers_never_5xx(
    fuzz_client: Any, raw: bytes, content_type: str, encoding: str | None, compress: bool
) -> None:
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    body = gzip.compress(raw) if compress else raw
    response = fuzz_client.post("/ingest", content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400, 413, 415)


@SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(
            ["stack", "event_type", "session_id", "trace_id", "since", "until", "limit", "other"]
        ),
        st.text(max_size=40),
        max_size=5,
    )
)
def test_query_parameters_never_5xx(fuzz_client: Any, params: dict[str, str]) -> None:
    response = fuzz_client.get("/api/v1/events", params=params)
    assert response.status_code in (200, 400), response.text


def test_fuzz_client_still_stores_valid_events(fuzz_client: Any, tmp_path: Path) -> None:
    # The fuzzed hub is still healthy and answering.
    assert fuzz_client.get("/health").status_code == 200


@SETTINGS
@given(
    path=st.sampled_from(
        ["/v1/traces", "/v1/logs", "/v1/metrics", "/loki/api/v1/push", "/api/v2/spans"]
    ),
    raw=st.binary(max_size=1500) | json_values.map(msgspec.json.encode),
    content_type=st.sampled_from(["application/x-protobuf", "application/json", "text/plain", ""]),
    encoding=st.sampled_from([None, "gzip", "snappy"]),
    compress=st.booleans(),
)
def test_otlp_and_loki_endpoints_never_5xx(
    fuzz_client: Any, path: str, raw: bytes, content_type: str, encoding: str | None, compress: bool
) -> None:
    headers = {"Content-Type": content_type, "X-Scope-OrgID": "fuzz"}
    if encoding:
        headers["Content-Encoding"] = encoding
    body = gzip.compress(raw) if compress else raw
    response = fuzz_client.post(path, content=body, headers=headers)
    assert response.status_code < 500, response.text


hex_ids = st.sampled_from([16, 32]).flatmap(
    lambda n: st.text(alphabet="0123456789abcdefABCDEF", min_size=n, max_size=n)
)
zipkin_like = st.fixed_dictionaries(
    {},
    optional={
        "traceId": hex_ids | json_values,
        "id": hex_ids | json_values,
        "parentId": hex_ids | json_values,
        "name": json_values,
        "kind": st.sampled_from(["CLIENT", "SERVER", "PRODUCER", "CONSUMER", "x"]) | json_values,
        "timestamp": st.integers(min_value=-(2**70), max_value=2**70) | json_values,
        "duration": st.integers(min_value=-(2**70), max_value=2**70) | json_values,
        "localEndpoint": st.fixed_dictionaries(
            {}, optional={"serviceName": json_values, "ipv4": json_values, "port": json_values}
        )
        | json_values,
        "remoteEndpoint": json_values,
        "tags": st.dictionaries(st.text(max_size=20), st.text(max_size=20) | json_values)
        | json_values,
        "annotations": st.lists(
            st.fixed_dictionaries(
                {}, optional={"timestamp": json_values, "value": st.text(max_size=30) | json_values}
            ),
            max_size=3,
        )
        | json_values,
        "debug": json_values,
    },
)


@SETTINGS
@given(spans=st.lists(zipkin_like, max_size=5))
def test_zipkin_span_shapes_never_5xx(fuzz_client: Any, spans: list[dict[str, Any]]) -> None:
    response = fuzz_client.post(
        "/api/v2/spans", content=msgspec.json.encode(spans), headers={"X-Stack-Name": "fuzz"}
    )
    assert response.status_code in (202, 400), response.text
    if response.status_code == 202:
        answer = response.json()
        assert answer["accepted"] + len(answer["rejected"]) == len(spans)


# -- extremes on every protocol: no 5xx, and nothing acknowledged the loader cannot load --

extreme_ints = st.sampled_from(
    [0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 2**64 - 1, 2**64, 10**30]
) | st.integers(min_value=-(2**70), max_value=2**70)
extreme_floats = st.sampled_from([1e308, -1e308, 5e-324, -0.0, 1e19]) | st.floats()
extreme_numbers = extreme_ints | extreme_floats
extreme_ts_text = st.datetimes(
    min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=st.just(dt.UTC)
).map(lambda d: d.isoformat().replace("+00:00", "Z")) | st.sampled_from(
    ["0001-01-01T00:00:00Z", "1677-09-21T00:12:43.145224Z", "2262-04-11T23:47:16.854775Z"]
)
NOW_NS = time.time_ns()
extreme_ts = extreme_ts_text | extreme_ints | st.just(NOW_NS)


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"n": value}
    return value


@pytest.fixture(scope="module")
def extreme_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    with in_process_hub(tmp_path_factory.mktemp("extreme") / "data", max_body_bytes=256 * 1024) as (
        hub,
        client,
    ):
        client.headers["X-Stack-Name"] = "fuzz"
        yield hub, client


def _assert_loadable(hub: Any, response: Any) -> None:
    """No 5xx; and whatever was acknowledged loads: the store refused nothing."""
    assert response.status_code < 500, response.text
    hub.flush()  # a transient store failure would raise here
    assert hub.loader.last_error is None and hub.metrics_loader.last_error is None
    assert hub.loader.rows_quarantined == 0 and hub.metrics_loader.rows_quarantined == 0, [
        e.error for q in hub.quarantines.values() for e in q.entries()
    ]
    assert hub.spool.backlog_bytes() == 0 and hub.metrics_spool.backlog_bytes() == 0


EXTREME = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_DATA_KEYS = ["tokens_in", "tokens_out", "cost_usd", "duration_ms", "score", "status_code", "x"]


@EXTREME
@given(
    timestamp=extreme_ts,
    data=st.dictionaries(st.sampled_from(_DATA_KEYS), extreme_numbers, max_size=4),
    depth=st.integers(min_value=0, max_value=1200),
    copies=st.integers(min_value=1, max_value=3),
)
def test_native_extremes(
    extreme_hub: tuple[Any, Any], timestamp: Any, data: dict[str, Any], depth: int, copies: int
) -> None:
    hub, client = extreme_hub
    event = {"event_type": "llm_call", "timestamp": timestamp, "data": data}
    if depth:
        event["attributes"] = _nested(depth, 1)
    # Copies share a rollup bucket: each value must fit, and so must their sum.
    body = msgspec.json.encode([dict(event, data=dict(data, model="m")) for _ in range(copies)])
    _assert_loadable(hub, client.post("/v1/events", content=body))


def _any_value(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value


@EXTREME
@given(
    start=extreme_ints,
    end=extreme_ints,
    tokens=extreme_numbers,
    depth=st.integers(min_value=0, max_value=300),
    protobuf=st.booleans(),
)
def test_otlp_trace_extremes(
    extreme_hub: tuple[Any, Any], start: int, end: int, tokens: Any, depth: int, protobuf: bool
) -> None:
    hub, client = extreme_hub
    number = {"intValue": str(tokens)} if isinstance(tokens, int) else {"doubleValue": tokens}
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "chat",
        "startTimeUnixNano": str(start % 2**64),
        "endTimeUnixNano": str(end % 2**64),
        "attributes": [
            {"key": "gen_ai.usage.input_tokens", "value": number},
            {"key": "gen_ai.usage.cost", "value": number},
            {"key": "deep", "value": _any_value(depth, {"intValue": "1"})},
        ],
    }
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    if isinstance(tokens, float) and not math.isfinite(tokens):
        number.clear()
        number["doubleValue"] = str(tokens).replace("inf", "Infinity").replace("nan", "NaN")
    content = msgspec.json.encode(document)
    content_type = "application/json"
    if protobuf:
        from google.protobuf import json_format
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        try:
            message = json_format.Parse(content, ExportTraceServiceRequest())
        except (json_format.ParseError, RecursionError):
            return  # not representable as protobuf: the JSON case covers it
        content, content_type = message.SerializeToString(), "application/x-protobuf"
    response = client.post("/v1/traces", content=content, headers={"Content-Type": content_type})
    _assert_loadable(hub, response)


@EXTREME
@given(
    ts=extreme_ints,
    start=extreme_ints,
    count=extreme_ints,
    value=extreme_floats,
    protobuf=st.booleans(),
)
def test_otlp_metric_extremes(
    extreme_hub: tuple[Any, Any], ts: int, start: int, count: int, value: float, protobuf: bool
) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    hub, client = extreme_hub
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "extreme"
    point = metric.histogram.data_points.add()
    point.time_unix_nano = ts % 2**64
    point.start_time_unix_nano = start % 2**64
    point.count = count % 2**64
    point.sum = value
    point.explicit_bounds.extend([value])
    point.bucket_counts.extend([count % 2**64, 0])
    gauge = request.resource_metrics[0].scope_metrics[0].metrics.add()
    gauge.name = "extreme_gauge"
    gauge.gauge.data_points.add(time_unix_nano=ts % 2**64, as_double=value)
    if protobuf:
        content, content_type = request.SerializeToString(), "application/x-protobuf"
    else:
        from google.protobuf import json_format

        content, content_type = json_format.MessageToJson(request).encode(), "application/json"
    response = client.post("/v1/metrics", content=content, headers={"Content-Type": content_type})
    _assert_loadable(hub, response)


@EXTREME
@given(ts=extreme_ints.map(str) | st.text(max_size=25), line=st.text(max_size=40))
def test_loki_extremes(extreme_hub: tuple[Any, Any], ts: str, line: str) -> None:
    hub, client = extreme_hub
    body = {"streams": [{"stream": {"job": "fuzz"}, "values": [[ts, line]]}]}
    response = client.post("/loki/api/v1/push", json=body, headers={"X-Scope-OrgID": "fuzz"})
    _assert_loadable(hub, response)


@EXTREME
@given(
    timestamp=extreme_ints,
    duration=extreme_ints,
    tokens=extreme_numbers.map(str) | st.sampled_from(["1e400", "-0", "NaN", "Infinity"]),
    value=extreme_numbers.map(str),
    annotation_ts=extreme_ints,
)
def test_zipkin_extremes(
    extreme_hub: tuple[Any, Any],
    timestamp: int,
    duration: int,
    tokens: str,
    value: str,
    annotation_ts: int,
) -> None:
    hub, client = extreme_hub
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "id": "b7ad6b7169203331",
        "name": "chat",
        "timestamp": timestamp,
        "duration": duration,
        "tags": {
            "gen_ai.usage.input_tokens": tokens,
            "gen_ai.usage.cost": tokens,
            "x": value,
            "labels": f'["{value}","{tokens}"]',
        },
        "annotations": [{"timestamp": annotation_ts, "value": '{"exception": {"n": 1}}'}],
    }
    response = client.post("/api/v2/spans", json=[span])
    _assert_loadable(hub, response)


# -- the Langfuse and LangSmith routes: shaped-but-wrong bodies and raw bytes --

_field_values = json_values | extreme_ts_text | extreme_numbers
langfuse_envelope = st.fixed_dictionaries(
    {
        "id": st.text(max_size=8) | json_values,
        "type": st.sampled_from(
            [
                "trace-create",
                "generation-create",
                "generation-update",
                "span-create",
                "span-update",
                "event-create",
                "score-create",
                "sdk-log",
                "tool-create",
                "observation-create",
                "nope",
            ]
        )
        | json_values,
        "timestamp": _field_values,
        "body": st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "traceId",
                    "startTime",
                    "endTime",
                    "model",
                    "usage",
                    "usageDetails",
                    "costDetails",
                    "input",
                    "output",
                    "metadata",
                    "value",
                    "name",
                    "level",
                    "sessionId",
                    "userId",
                    "type",
                ]
            ),
            _field_values,
        )
        | json_values,
    }
)
langsmith_run = st.dictionaries(
    st.sampled_from(
        [
            "id",
            "name",
            "run_type",
            "start_time",
            "end_time",
            "inputs",
            "outputs",
            "extra",
            "error",
            "trace_id",
            "parent_run_id",
            "key",
            "score",
            "run_id",
        ]
    ),
    _field_values,
)
NEW_ROUTES = [
    ("POST", "/api/public/ingestion"),
    ("POST", "/api/public/scores"),
    ("POST", "/api/public/otel/v1/traces"),
    ("POST", "/runs"),
    ("PATCH", "/runs/r-1"),
    ("POST", "/runs/batch"),
    ("POST", "/runs/multipart"),
    ("POST", "/feedback"),
]


@SETTINGS
@given(
    body=st.fixed_dictionaries({"batch": st.lists(langfuse_envelope, max_size=5)})
    | st.lists(langsmith_run, max_size=4)
    | st.fixed_dictionaries(
        {"post": st.lists(langsmith_run, max_size=3), "patch": st.lists(langsmith_run, max_size=3)}
    )
    | langsmith_run
    | json_values,
    route=st.sampled_from(NEW_ROUTES),
)
def test_langfuse_and_langsmith_json_never_5xx(
    fuzz_client: Any, body: Any, route: tuple[str, str]
) -> None:
    method, path = route
    headers = {"X-Stack-Name": "fuzz", "Content-Type": "application/json"}
    response = fuzz_client.request(method, path, content=msgspec.json.encode(body), headers=headers)
    assert response.status_code < 500, response.text


@SETTINGS
@given(
    route=st.sampled_from(NEW_ROUTES),
    raw=st.binary(max_size=1500),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/x-protobuf",
            "multipart/form-data; boundary=b",
            "multipart/form-data",
            "text/plain",
            "",
        ]
    ),
    public=st.sampled_from(["fuzz", "pk-lf-1", "Bad Name!", ""]),
)
def test_langfuse_and_langsmith_bytes_never_5xx(
    fuzz_client: Any, route: tuple[str, str], raw: bytes, content_type: str, public: str
) -> None:
    method, path = route
    key = fuzz_client.headers["X-API-Key"]
    token = base64.b64encode(f"{public}:{key}".encode()).decode()
    headers = {"Content-Type": content_type, "Authorization": f"Basic {token}"}
    response = fuzz_client.request(method, path, content=raw, headers=headers)
    assert response.status_code < 500, response.text
