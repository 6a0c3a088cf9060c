"""``/prometheus/api/v1``: the requests Grafana's Prometheus data source sends, the
answer and error shapes, auth and stack isolation, and fuzzed parameters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacklens.testing import ManualClock, in_process_hub
from stacklens.testing.dataset import NOW_NS, events

API = "/prometheus/api/v1"
NOW_S = NOW_NS // 10**9  # 2026-01-10T11:45:00Z
TOKENS = "sum by (stack_name) (opencode_tokens_total)"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, str]]:
    with in_process_hub(tmp_path_factory.mktemp("prom") / "data", clock=ManualClock(NOW_NS)) as (
        hub,
        client,
    ):
        assert client.post("/v1/events", json=events()).json()["accepted"] == 15
        hub.flush()
        _, read_key = hub.keyring.create("read")
        yield hub, client, read_key


@pytest.fixture
def grafana(hub: tuple[Any, Any, str]) -> Iterator[Any]:
    """The app as Grafana reaches it: a read key as a bearer token, no X-API-Key."""
    _, client, key = hub
    saved = client.headers.pop("X-API-Key")
    client.headers["Authorization"] = f"Bearer {key}"
    try:
        yield client
    finally:
        del client.headers["Authorization"]
        client.headers["X-API-Key"] = saved


def by_stack(data: dict[str, Any]) -> dict[str, str]:
    return {r["metric"]["stack_name"]: r["value"][1] for r in data["data"]["result"]}


def test_grafana_health_check(grafana: Any) -> None:
    # Grafana's "Save & test": GET /api/v1/query?query=1%2B1&time=<float seconds>
    response = grafana.get(f"{API}/query", params={"query": "1+1", "time": f"{NOW_S}.123"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "success",
        "data": {"resultType": "scalar", "result": [NOW_S + 0.123, "2"]},
    }
    info = grafana.get(f"{API}/status/buildinfo").json()
    assert info["status"] == "success" and info["data"]["version"].startswith("2.")


def test_instant_query_get_and_post_form(grafana: Any) -> None:
    # alpha: in 1000+2000+100+300, out 500+1000+50+100, cache_read 200; beta 4000+1000
    want = {"alpha": "5250", "beta": "5000"}
    get = grafana.get(f"{API}/query", params={"query": TOKENS, "time": str(NOW_S)})
    post = grafana.post(f"{API}/query", data={"query": TOKENS, "time": str(NOW_S)})
    rfc = grafana.get(f"{API}/query", params={"query": TOKENS, "time": "2026-01-10T11:45:00Z"})
    assert by_stack(get.json()) == by_stack(post.json()) == by_stack(rfc.json()) == want
    # no time: the hub's clock
    assert by_stack(grafana.get(f"{API}/query", params={"query": TOKENS}).json()) == want


def test_label_values_as_grafana_asks(grafana: Any) -> None:
    window = {"start": str(NOW_S - 3600), "end": str(NOW_S)}
    # label_values(stack_name)
    response = grafana.get(f"{API}/label/stack_name/values", params=window)
    assert response.json() == {"status": "success", "data": ["alpha", "beta"]}
    # label_values(opencode_errors_total, stack_name): only alpha had errors
    params = {**window, "match[]": "opencode_errors_total"}
    response = grafana.get(f"{API}/label/stack_name/values", params=params)
    assert response.json()["data"] == ["alpha"]
    series = grafana.post(f"{API}/series", data=params).json()["data"]
    assert series == [{"__name__": "opencode_errors_total", "stack_name": "alpha"}]
    names = grafana.get(f"{API}/label/__name__/values").json()["data"]
    assert {"opencode_tokens_total", "opencode_response_duration_seconds_bucket"} <= set(names)
    labels = grafana.post(f"{API}/labels", data={"match[]": "opencode_tokens_total"}).json()
    assert labels["data"] == ["__name__", "direction", "model", "stack_name"]
    meta = grafana.get(f"{API}/metadata").json()["data"]
    assert meta["opencode_tokens_total"] == [
        {"type": "counter", "help": "Tokens used.", "unit": ""}
    ]


def test_query_range_post_form_and_get(grafana: Any) -> None:
    # alpha's tokens: 1700 at 10:00:20, 3000 at 10:01:00, 150 at 10:30:00, 400 at 11:00:00;
    # beta's 5000 at 11:10:00. A sample at g counts the events before g (the 15 s grid).
    form = {
        "query": TOKENS,
        "start": str(NOW_S - 6300),  # 10:00:00
        "end": str(NOW_S - 900),  # 11:30:00
        "step": "1800",
    }
    post = grafana.post(f"{API}/query_range", data=form).json()
    get = grafana.get(
        f"{API}/query_range",
        params={**form, "start": "2026-01-10T10:00:00Z", "end": "2026-01-10T11:30:00.000Z",
                "step": "30m"},
    ).json()  # fmt: skip
    assert post == get
    assert post["status"] == "success" and post["data"]["resultType"] == "matrix"
    values = {r["metric"]["stack_name"]: r["values"] for r in post["data"]["result"]}
    start = NOW_S - 6300
    # nothing at 10:00:00 (the first sample is 10:00:30)
    assert values == {
        "alpha": [[start + 1800, "4700"], [start + 3600, "4850"], [start + 5400, "5250"]],
        "beta": [[start + 5400, "5000"]],
    }


def _error(response: Any, status: int, error_type: str, contains: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == error_type, body
    assert contains in body["error"], body


def test_errors_in_prometheus_shape(hub: tuple[Any, Any, str], grafana: Any) -> None:
    _error(grafana.get(f"{API}/query", params={"query": "sum("}), 400, "bad_data", "parse")
    _error(grafana.get(f"{API}/query"), 400, "bad_data", "query")
    _error(
        grafana.get(f"{API}/query", params={"query": "1", "time": "yesterday"}),
        400,
        "bad_data",
        "time",
    )
    _error(
        grafana.get(f"{API}/query_range", params={"query": "1", "start": "1", "end": "2"}),
        400,
        "bad_data",
        "step",
    )
    _error(
        grafana.get(
            f"{API}/query_range", params={"query": "1", "start": "0", "end": "1e9", "step": "1"}
        ),
        400,
        "bad_data",
        "11,000 points",
    )
    _error(
        grafana.get(f"{API}/query", params={"query": "rate(opencode_tokens_total[60d])"}),
        422,
        "execution",
        "max_range_s",
    )
    _error(
        grafana.get(f"{API}/query", params={"query": "opencode_tokens_total[5m:1m]"}),
        400,
        "bad_data",
        "subqueries are not supported",
    )
    _error(grafana.get(f"{API}/series"), 400, "bad_data", "match[]")
    json_body = {"content-type": "application/json"}
    response = grafana.post(f"{API}/query", content=b"{}", headers=json_body)
    _error(response, 400, "bad_data", "x-www-form-urlencoded")


def test_auth(hub: tuple[Any, Any, str]) -> None:
    the_hub, client, _ = hub
    anonymous = client.get(f"{API}/query", params={"query": "1"}, headers={"X-API-Key": ""})
    _error(anonymous, 401, "unauthorized", "API key")
    _, ingest = the_hub.keyring.create("ingest")
    _error(
        client.get(f"{API}/query", params={"query": "1"}, headers={"X-API-Key": ingest}),
        403,
        "forbidden",
        "cannot read",
    )


def test_a_stack_bound_key_sees_only_its_stack(hub: tuple[Any, Any, str]) -> None:
    the_hub, client, _ = hub
    _, key = the_hub.keyring.create("read", stack="beta")
    headers = {"Authorization": f"Bearer {key}", "X-API-Key": ""}
    got = client.get(f"{API}/query", params={"query": TOKENS}, headers=headers).json()
    assert by_stack(got) == {"beta": "5000"}
    asked = client.get(
        f"{API}/query", params={"query": 'opencode_tokens_total{stack_name="alpha"}'},
        headers=headers,
    ).json()  # fmt: skip
    assert asked["data"]["result"] == []
    values = client.get(f"{API}/label/stack_name/values", headers=headers).json()["data"]
    assert values == ["beta"]
    series = client.get(
        f"{API}/series", params={"match[]": '{__name__=~".+"}'}, headers=headers
    ).json()["data"]
    assert series and {s["stack_name"] for s in series} == {"beta"}


_TIMES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.datetimes(min_value=dt.datetime(1, 1, 1)).map(lambda d: d.isoformat() + "Z"),
    st.text(max_size=30),
)
_STEPS = st.one_of(_TIMES, st.sampled_from(["0", "-1", "1ms", "15s", "1h30m", "1y", "5x"]))
_QUERIES = st.one_of(
    st.sampled_from(
        [
            "1+1",
            TOKENS,
            "rate(opencode_tokens_total[5m])",
            "histogram_quantile(0.9, sum by (le) "
            "(rate(opencode_response_duration_seconds_bucket[5m])))",
            "topk(2, opencode_tokens_total)",
            'opencode_tokens_total{model=~"("}',
            "opencode_tokens_total / on(stack_name) opencode_tokens_total",
            "increase(stacklens_cost_usd_total[1h]) > bool 0",
            "{}",
            "x" * 20_000,
        ]
    ),
    st.text(max_size=60),
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=_QUERIES, start=_TIMES, end=_TIMES, step=_STEPS, post=st.booleans())
def test_fuzzed_parameters_never_5xx(
    grafana: Any, query: str, start: str, end: str, step: str, post: bool
) -> None:
    params = {"query": query, "start": start, "end": end, "step": step, "time": end}
    for path in ("query", "query_range"):
        if post:
            response = grafana.post(f"{API}/{path}", data=params)
        else:
            response = grafana.get(f"{API}/{path}", params=params)
        assert response.status_code in (200, 400, 422), (path, params, response.text[:300])
        body = response.json()
        assert body["status"] == ("success" if response.status_code == 200 else "error")
        if response.status_code == 422:
            assert "max_" in body["error"] or "limit" in body["error"]
    # the same text as a series selector of the metadata routes
    for path in ("series", "labels", "label/stack_name/values"):
        metadata = {"match[]": query, "start": start, "end": end}
        response = grafana.get(f"{API}/{path}", params=metadata)
        assert response.status_code in (200, 400, 422), (path, metadata, response.text[:300])
        assert response.json()["status"] in ("success", "error")
