"""Fuzzing the Loki query API: arbitrary and grammar-shaped LogQL, arbitrary
parameters. Never a 5xx; every answer within its bounds (lines, series, time)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacklens.logql.engine import Bounds
from stacklens.testing import ManualClock, in_process_hub
from stacklens.testing.logs import T0_NS, seed_logs

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BOUNDS = Bounds(max_entries=50, max_series=5, max_points=200, max_scan_lines=1000)
#: Any one request answers within this (the dataset is small; unbounded work is not).
SLOW_S = 5.0


@pytest.fixture(scope="module")
def loki_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from stacklens.api.loki_query import LOKI_BOUNDS

    data = Path(tmp_path_factory.mktemp("lokifuzz")) / "data"
    with in_process_hub(data, clock=ManualClock(T0_NS + 3600 * 10**9)) as (hub, client):
        seed_logs(hub, client)
        LOKI_BOUNDS.provide(client.app, BOUNDS)
        yield client


names = st.sampled_from(
    ["app", "service", "level", "stack_name", "namespace", "trace_id", "x", "service_name"]
)
regexish = st.text(alphabet="ab.*+?|()[]{}\\^$-19Zzpx#:=<", max_size=8)
values = st.sampled_from(["auth", "gateway", "", "error", "samosachaat-prod"]) | regexish
ops = st.sampled_from(["=", "!=", "=~", "!~"])


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


matcher = st.builds(lambda n, o, v: f"{n}{o}{_quote(v)}", names, ops, values)
selector = st.lists(matcher, min_size=0, max_size=3).map(lambda ms: "{" + ", ".join(ms) + "}")
stage = st.one_of(
    st.builds(lambda o, v: f" {o} {_quote(v)}", st.sampled_from(["|=", "!=", "|~", "!~"]), values),
    st.just(" | json"),
    st.just(" | logfmt"),
    st.just(" | drop __error__, level"),
    st.just(" | keep app"),
    st.builds(
        lambda n, o, v: f" | {n} {o} {v}",
        names | st.sampled_from(["duration_ms", "status_code", "latency", "__error__"]),
        st.sampled_from([">", ">=", "<", "<=", "==", "!=", "="]),
        st.sampled_from(["5000", "2s", "1.5", "-3", '""', '"x"', "1e3"]),
    ),
    st.builds(lambda v: f" | line_format {_quote(v)}", st.sampled_from(["{{.app}}", "x{{.a}}y"])),
    st.builds(lambda n: f" | unwrap {n}", st.sampled_from(["duration_ms", "status_code"])),
)
log_query = st.builds(lambda s, ps: s + "".join(ps), selector, st.lists(stage, max_size=4))
range_fn = st.sampled_from(
    ["rate", "count_over_time", "bytes_over_time", "bytes_rate", "sum_over_time", "max_over_time"]
)
duration = st.sampled_from(["1m", "5m", "1h", "30s", "0s", "1000d", "1ms"])
range_query = st.builds(lambda f, q, d: f"{f}({q} [{d}])", range_fn, log_query, duration)
metric_query = st.one_of(
    range_query,
    st.builds(
        lambda a, g, q: f"{a} {g} ({q})",
        st.sampled_from(["sum", "avg", "min", "max", "count"]),
        st.sampled_from(["", "by (app)", "without (level)", "by ()"]),
        range_query,
    ),
    st.builds(lambda k, q: f"topk({k}, {q})", st.sampled_from(["1", "3", "0", "x"]), range_query),
    st.builds(
        lambda a, o, b: f"{a} {o} {b}",
        range_query | st.just("vector(1)") | st.just("2"),
        st.sampled_from(["+", "-", "*", "/", "%", ">", "=="]),
        range_query | st.just("vector(1)") | st.just("0"),
    ),
)
times = st.one_of(
    st.none(),
    st.sampled_from(
        [
            str(T0_NS),
            str(T0_NS + 3600 * 10**9),
            str(T0_NS // 10**9),
            "1768046400.5",
            "2026-01-10T12:00:00Z",
            "0",
            "-1",
            "99999999999999999999",
            "9" * 30,
            "now",
            "",
        ]
    ),
    st.text(max_size=12),
)
param_sets = st.fixed_dictionaries(
    {},
    optional={
        "start": times,
        "end": times,
        "time": times,
        "step": st.sampled_from(["60000ms", "1", "0.5", "0", "-5", "1h", "abc", "1e400", ""])
        | st.text(max_size=6),
        "limit": st.sampled_from(["1", "50", "51", "0", "-1", "x", "99999999999999999999"]),
        "direction": st.sampled_from(["forward", "BACKWARD", "up", ""]),
    },
)
paths = st.sampled_from(
    [
        "/loki/api/v1/query_range",
        "/loki/api/v1/query",
        "/loki/api/v1/labels",
        "/loki/api/v1/label/app/values",
        "/loki/api/v1/series",
        "/loki/api/v1/index/stats",
    ]
)


def _check(client: Any, path: str, params: dict[str, Any]) -> None:
    clean = {k: v for k, v in params.items() if v is not None}
    started = time.perf_counter()
    response = client.get(path, params=clean)
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 400), (path, clean, response.text[:500])
    assert elapsed < SLOW_S, (path, clean, elapsed)
    if response.status_code != 200 or path not in (
        "/loki/api/v1/query_range",
        "/loki/api/v1/query",
    ):
        return
    data = response.json()["data"]
    if data["resultType"] == "streams":
        assert sum(len(s["values"]) for s in data["result"]) <= BOUNDS.max_entries
    elif data["resultType"] in ("matrix", "vector"):
        assert len(data["result"]) <= BOUNDS.max_series
        for series in data["result"]:
            assert len(series.get("values", [])) <= BOUNDS.max_points


@SETTINGS
@given(query=log_query | metric_query, path=paths, params=param_sets)
def test_grammar_shaped_queries_never_5xx(
    loki_client: Any, query: str, path: str, params: dict[str, Any]
) -> None:
    key = "match[]" if path.endswith("/series") else "query"
    _check(loki_client, path, {key: query, **params})


@SETTINGS
@given(query=st.text(max_size=80), path=paths)
def test_arbitrary_text_never_5xx(loki_client: Any, query: str, path: str) -> None:
    _check(loki_client, path, {"query": query})


def test_label_names_in_the_path_are_checked(loki_client: Any) -> None:
    for name in ("bad-name", "1x", "a" * 200, "é"):
        response = loki_client.get(f"/loki/api/v1/label/{name}/values")
        assert response.status_code == 400, name
