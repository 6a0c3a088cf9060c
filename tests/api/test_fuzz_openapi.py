"""Every route in the OpenAPI document, fuzzed: arbitrary path and query parameters and
bodies never produce a 5xx (bad input gets a clear 4xx)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacklens.testing import in_process_hub
from stacklens.testing.dataset import events

#: Ingest routes have their own, body-aware fuzzing (tests/ingest/test_fuzz.py). Zipkin's
#: ``/api/v2/spans`` is fuzzed here too: a JSON body is its whole input.
INGEST = {"/v1/events", "/ingest", "/v1/traces", "/v1/logs", "/v1/metrics", "/loki/api/v1/push"}

#: Extremes the probe of issue 11 found 5xx with: far times, huge durations and numbers.
extreme_text = st.sampled_from(
    [
        "9999999999d",
        "99999999999h",
        "9999999999w",
        "101y",
        "9999-12-31T00:00:00Z",
        "9999-12-31",
        "0001-01-01T00:00:00Z",
        "9999-12",
        "0000-01",
        "99999999999999999999999",
        "-99999999999999999999999",
        "1e400",
        str(2**63),
        str(2**64),
    ]
) | st.integers(min_value=10**18, max_value=10**30).map(lambda n: f"{n}{'' if n % 3 else 'd'}")
huge_ints = st.integers(min_value=2**62, max_value=10**30) | st.integers(
    max_value=-(2**62), min_value=-(10**30)
)
text = (
    st.text(max_size=30)
    | st.sampled_from(["", "0", "-1", "7d", "15m", "2026-01-10T12:00:00Z", "alpha", "x" * 300])
    | extreme_text
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | huge_ints
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | extreme_text,
    _containers,
    max_leaves=10,
)


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with in_process_hub(tmp_path_factory.mktemp("fuzz-api") / "data", alerting_enabled=True) as (
        hub,
        client,
    ):
        client.post("/v1/events", json=events())
        hub.flush()
        yield client


def operations(client: Any) -> list[tuple[str, str, list[str]]]:
    found = []
    for path, item in client.app.openapi()["paths"].items():
        if path in INGEST:
            continue
        for method, op in item.items():
            names = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
            found.append((method.upper(), path, names))
    return found


def test_the_document_lists_the_read_side(app_client: Any) -> None:
    paths = {path for _, path, _ in operations(app_client)}
    assert {"/api/v1/events", "/api/v1/overview", "/api/v1/alerts", "/api/v1/costs"} <= paths


def test_the_zipkin_route_is_documented_and_fuzzed(app_client: Any) -> None:
    assert ("POST", "/api/v2/spans", []) in operations(app_client)
    answers = app_client.app.openapi()["paths"]["/api/v2/spans"]["post"]["responses"]
    assert {"202", "400", "401", "415", "503"} <= set(answers)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_route_answers_5xx(app_client: Any, data: st.DataObject) -> None:
    method, path, names = data.draw(st.sampled_from(operations(app_client)))
    segment = st.text(min_size=1, max_size=20).map(lambda t: quote(t, safe=""))
    concrete = re.sub(r"\{[^}]+\}", lambda _: data.draw(segment), path)
    params = {name: data.draw(text) for name in names if data.draw(st.booleans())}
    kwargs: dict[str, Any] = {"params": params}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = data.draw(json_values)
    response = app_client.request(method, concrete, **kwargs)
    assert response.status_code < 500, (method, concrete, params, response.text[:300])


#: The fields of the state-changing bodies (budgets, silences), filled with extremes.
body_fields = st.fixed_dictionaries(
    {},
    optional={
        "monthly_usd": huge_ints | st.floats(allow_nan=False, allow_infinity=False) | extreme_text,
        "monthly_tokens": huge_ints | extreme_text,
        "duration": extreme_text | text,
        "startsAt": extreme_text | huge_ints,
        "endsAt": extreme_text | huge_ints,
        "matchers": st.lists(st.sampled_from(['a="b"', 'stack_name="alpha"']), max_size=3),
        "comment": st.text(max_size=5),
    },
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_extreme_bodies_never_answer_5xx(app_client: Any, data: st.DataObject) -> None:
    method, path = data.draw(
        st.sampled_from([("PUT", "/api/v1/budgets/alpha"), ("POST", "/api/v1/silences")])
    )
    body = data.draw(body_fields)
    response = app_client.request(method, path, json=body)
    assert response.status_code < 500, (method, path, body, response.text[:300])


extreme_bodies = st.sampled_from(
    [2**63, -(2**63) - 1, 2**64, 10**400, 1e308, -1e308, "0001-01-01T00:00:00Z"]
) | st.integers(min_value=1, max_value=1500).map(lambda depth: "[" * depth + "]" * depth)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), body=extreme_bodies)
def test_extreme_bodies_and_parameters_never_5xx(
    app_client: Any, data: st.DataObject, body: Any
) -> None:
    """Deep nesting, numbers past int64 and double, timestamps before 1677, in bodies
    and in every query parameter."""
    method, path, names = data.draw(st.sampled_from(operations(app_client)))
    concrete = re.sub(r"\{[^}]+\}", "0000000000000001-000001", path)
    text_value = body if isinstance(body, str) else str(body)
    # In the query string a value is cut to 1 KiB: every parameter at once with the
    # deepest nesting would pass the HTTP client's own URL limit (a client-side error,
    # not the hub's answer). The body carries the value whole.
    params = dict.fromkeys(names, text_value[:1024])
    content = text_value.encode()
    response = app_client.request(
        method,
        concrete,
        params=params,
        content=content if method in ("POST", "PUT", "PATCH") else None,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code < 500, (method, concrete, response.text[:300])
