"""Fuzzing ``POST /prometheus/api/v1/write``: random bytes, bad snappy, bad protobuf,
random and extreme series (label names and values, timestamps, NaNs and infinities), huge
label sets and decompression bombs. Never a 5xx; always one of the answers a remote-write
sender understands; and whatever was acknowledged loads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cramjam
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacklens.ingest.prometheus.proto import WriteRequest
from stacklens.testing import in_process_hub
from stacklens.testing.remote_write import HEADERS, STALE_NAN, write_body

ROUTE = "/prometheus/api/v1/write"
ANSWERS = {204, 400, 413, 415}
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    data = tmp_path_factory.mktemp("rwfuzz") / "data"
    with in_process_hub(data, max_body_bytes=64 * 1024) as (running, client):
        client.headers["X-Stack-Name"] = "fuzz"
        yield running, client


def _assert_loadable(hub: Any, response: Any) -> None:
    assert response.status_code in ANSWERS, (response.status_code, response.text)
    hub.flush()
    assert hub.metrics_loader.last_error is None
    assert hub.metrics_loader.rows_quarantined == 0
    assert hub.metrics_spool.backlog_bytes() == 0


@SETTINGS
@given(
    raw=st.binary(max_size=2000),
    snappy=st.booleans(),
    content_type=st.sampled_from(["application/x-protobuf", "", "text/plain", "application/json"]),
    encoding=st.sampled_from(["snappy", "", "gzip", "zstd"]),
)
def test_random_bytes_never_5xx(
    hub: tuple[Any, Any], raw: bytes, snappy: bool, content_type: str, encoding: str
) -> None:
    _, client = hub
    body = bytes(cramjam.snappy.compress_raw(raw)) if snappy else raw
    headers = {"Content-Type": content_type, "Content-Encoding": encoding}
    response = client.post(ROUTE, content=body, headers=headers)
    assert response.status_code in ANSWERS | {401, 403}, response.text
    assert response.status_code < 500


names = st.text(max_size=20) | st.sampled_from(["__name__", "job", "instance", "stack_name", "le"])
values = (
    st.text(max_size=40)
    | st.sampled_from(["fuzz", "other-stack", "Not A Stack", "gpu_utilization_percent"])
    | st.just("x" * (16 * 1024 + 1))
)
timestamps = st.sampled_from(
    [0, 1, -1, 2**31, 2**53 + 1, 9_223_372_036_854, 9_223_372_036_855, 2**63 - 1, -(2**63)]
) | st.integers(min_value=-(2**63), max_value=2**63 - 1)
floats = st.floats() | st.sampled_from([STALE_NAN, float("inf"), -0.0, 1e308, 5e-324])
series = st.tuples(
    st.dictionaries(names, values, max_size=6),
    st.lists(st.tuples(timestamps, floats), max_size=4),
)


#: Series that are valid but for their values: some samples of a batch are stored.
valid = st.tuples(
    st.fixed_dictionaries({"__name__": st.just("fuzz_metric"), "job": values}),
    st.lists(st.tuples(st.just(1_796_000_000_000) | timestamps, floats), max_size=4),
)


@SETTINGS
@given(batch=st.lists(series | valid, max_size=5), raw_label=st.binary(max_size=8))
def test_random_series_never_5xx_and_acknowledged_samples_load(
    hub: tuple[Any, Any], batch: list[Any], raw_label: bytes
) -> None:
    running, client = hub
    request = WriteRequest()
    request.ParseFromString(cramjam.snappy.decompress_raw(write_body(batch)).read())
    if request.timeseries:  # a label that need not be UTF-8
        request.timeseries[0].labels.add(name=b"raw", value=raw_label)
    body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    response = client.post(ROUTE, content=body, headers=HEADERS)
    _assert_loadable(running, response)


def test_a_huge_label_set_is_a_4xx_naming_the_limit(hub: tuple[Any, Any]) -> None:
    _, client = hub
    labels = {"__name__": "wide"} | {f"l{i}": "v" for i in range(2000)}
    response = client.post(ROUTE, content=write_body([(labels, [(1, 1.0)])]), headers=HEADERS)
    assert response.status_code == 400 and "max_attributes_per_item" in response.text


def test_a_decompression_bomb_is_refused_before_inflating(hub: tuple[Any, Any]) -> None:
    _, client = hub
    bomb = bytes(cramjam.snappy.compress_raw(b"\x00" * (1024 * 1024)))
    assert len(bomb) < 64 * 1024  # under the body limit: the announced size refuses it
    response = client.post(ROUTE, content=bomb, headers=HEADERS)
    assert response.status_code == 400 and "larger than" in response.text
    huge = client.post(ROUTE, content=b"\x00" * (65 * 1024), headers=HEADERS)
    assert huge.status_code == 413
