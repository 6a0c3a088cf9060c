"""Fuzzing the ingest and query endpoints: arbitrary input never yields a 5xx."""

from __future__ import annotations

import gzip
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
    path=st.sampled_from(["/v1/traces", "/v1/logs", "/v1/metrics", "/loki/api/v1/push"]),
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
