"""The Loki query API over the seed dataset of :mod:`stacklens.testing.logs`: every
query of seed 002's "Querying Logs" and seed 004's LogQL table, the requests Grafana's
Loki data source sends, stack isolation and the bounds. Expected lines are counted by
hand from the dataset (times are T0 + seconds)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacklens.testing import ManualClock, in_process_hub
from stacklens.testing.backends import chdb_path
from stacklens.testing.logs import T0_NS, TRACE, seed_logs

S = 10**9
HOUR = 3600 * S
WINDOW = {"start": str(T0_NS), "end": str(T0_NS + HOUR)}


@pytest.fixture(scope="module", params=["duckdb", "chdb"])
def loki(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, Any]]:
    """The dataset in a hub on each store backend (every query's SQL runs on both)."""
    data = Path(tmp_path_factory.mktemp("loki")) / "data"
    store: dict[str, Any] = {}
    if request.param == "chdb":
        store["store_url"] = f"chdb://{chdb_path()}?database=t_{uuid.uuid4().hex[:16]}"
    with in_process_hub(data, clock=ManualClock(T0_NS + HOUR), **store) as (hub, client):
        seed_logs(hub, client)
        yield hub, client


def query_range(client: Any, query: str, **params: Any) -> dict[str, Any]:
    response = client.get("/loki/api/v1/query_range", params={"query": query, **WINDOW, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "success"
    return body["data"]


def lines(data: dict[str, Any]) -> list[tuple[int, str]]:
    """(seconds after T0, line) of every entry, newest first."""
    assert data["resultType"] == "streams"
    found = [(int(ts), line) for s in data["result"] for ts, line in s["values"]]
    return [((ts - T0_NS) // S, line) for ts, line in sorted(found, reverse=True)]


def offsets(data: dict[str, Any]) -> list[int]:
    return [offset for offset, _ in lines(data)]


# -- seed 002: Querying Logs ------------------------------------------------------------


def test_all_gateway_errors(loki: tuple[Any, Any]) -> None:
    data = query_range(loki[1], '{service="gateway"} |= "ERROR"')
    # The JSON error line (20 s) and the plain one (130 s); n1's rendered line has no ERROR.
    assert offsets(data) == [130, 20]
    assert lines(data)[0][1] == "ERROR: connection reset"
    by_level = {s["stream"].get("level"): s["stream"] for s in data["result"]}
    assert by_level["error"] == {
        "stack_name": "prod",
        "event_type": "log",
        "service": "gateway",
        "level": "error",
    }
    assert None in by_level  # the plain line has no level to sniff


def test_specific_agent_logs(loki: tuple[Any, Any]) -> None:
    data = query_range(loki[1], '{service="gateway"} | json | agent="daily_brief"')
    assert offsets(data) == [20, 10]
    assert all(s["stream"]["agent"] == "daily_brief" for s in data["result"])


def test_a_json_label_lookup_reads_only_the_lines_holding_its_value(loki: tuple[Any, Any]) -> None:
    """Of the gateway's five log lines, two hold "daily_brief": only they are read (a
    trace or agent looked up in a day of logs reads its lines, not the day's)."""
    data = query_range(loki[1], '{service="gateway"} | json | agent="daily_brief"')
    assert offsets(data) == [20, 10]
    assert data["stats"]["summary"]["totalLinesProcessed"] == 2
    # a number or a != is not looked for in the text: every event is read, as before
    # (the five lines and the gateway's llm_call)
    data = query_range(loki[1], '{service="gateway"} | json | duration_ms="7000"')
    assert offsets(data) == [20]
    assert data["stats"]["summary"]["totalLinesProcessed"] == 6
    data = query_range(loki[1], '{service="gateway"} | json | agent!="daily_brief"')
    assert offsets(data) == [200, 130, 100, 70]


def test_slow_requests_over_five_seconds(loki: tuple[Any, Any]) -> None:
    data = query_range(loki[1], '{service="gateway"} | json | duration_ms > 5000')
    # 7000 (20 s), 5001 (70 s), the llm_call n1 (100 s, 6000 ms); 5000 (200 s) is not
    # above; the plain line (130 s) passes with __error__, as in Loki.
    assert offsets(data) == [130, 100, 70, 20]
    errors = [s["stream"] for s in data["result"] if "__error__" in s["stream"]]
    assert [e["__error__"] for e in errors] == ["JSONParserErr"]
    clean = query_range(loki[1], '{service="gateway"} | json | duration_ms > 5000 | __error__=""')
    assert offsets(clean) == [100, 70, 20]
    [llm] = [s for s in clean["result"] if s["stream"]["event_type"] == "llm_call"]
    assert llm["stream"]["model"] == "gpt-4o-mini" and llm["stream"]["duration_ms"] == "6000"


def test_error_rate(loki: tuple[Any, Any]) -> None:
    client = loki[1]
    response = client.get(
        "/loki/api/v1/query",
        params={"query": 'rate({service="gateway"} |= "ERROR" [5m])', "time": T0_NS + 300 * S},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["resultType"] == "vector"
    # Window (T0, T0+300 s]: one error line in each of two streams: 1/300 per second each.
    values = sorted(float(r["value"][1]) for r in data["result"])
    assert values == pytest.approx([1 / 300, 1 / 300])
    assert all(r["value"][0] == (T0_NS + 300 * S) // S for r in data["result"])
    summed = client.get(
        "/loki/api/v1/query",
        params={
            "query": 'sum(rate({service="gateway"} |= "ERROR" [5m]))',
            "time": T0_NS + 300 * S,
        },
    ).json()["data"]["result"]
    assert summed == [{"metric": {}, "value": [(T0_NS + 300 * S) // S, "0.006666666666666667"]}]


# -- seed 004: cross-service LogQL ----------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # All errors in prod: a1 (5), a3 (25), c1 (35); staging's s1 is another namespace.
        ('{namespace="samosachaat-prod"} | json | level="error"', [35, 25, 5]),
        # Trace a request across tiers: the trace id is in a1, i1 and c1.
        (f'{{namespace="samosachaat-prod"}} | json | trace_id="{TRACE}"', [35, 30, 5]),
        # Auth failures: a1, a3 and staging's s1 (45) share app="auth".
        ('{app="auth"} | json | level="error"', [45, 25, 5]),
        # Slow inference calls: i1 (6500 ms); i2 is 3000.
        ('{app="inference"} | json | inference_time_ms > 5000', [30]),
        # 5xx by service: a3 (500) and c1 (502); a1 is 429, a2 200, inference has none.
        ('{namespace="samosachaat-prod"} | json | status_code >= 500', [35, 25]),
        # Rate-limited OAuth logins: a1 only (s1 is 503).
        ('{app="auth"} | json | path=~"/auth/oauth/.*" | status_code=429', [5]),
    ],
)
def test_seed_004_queries(loki: tuple[Any, Any], query: str, expected: list[int]) -> None:
    assert offsets(query_range(loki[1], query)) == expected


# -- the rest of the language ---------------------------------------------------------


def test_line_filters_all_four(loki: tuple[Any, Any]) -> None:
    client = loki[1]
    base = '{app="auth", namespace="samosachaat-prod"}'
    assert offsets(query_range(client, base + ' |= "oauth"')) == [25, 5]
    assert offsets(query_range(client, base + ' != "oauth"')) == [15]
    assert offsets(query_range(client, base + ' |~ "status_code\\":(2|4)"')) == [15, 5]
    assert offsets(query_range(client, base + ' !~ "oauth|login"')) == []


def test_selector_matchers_all_four(loki: tuple[Any, Any]) -> None:
    client = loki[1]
    assert offsets(query_range(client, '{app=~"chat-.*|inference"}')) == [40, 35, 30]
    assert offsets(query_range(client, '{stack_name="samosachaat", app!="auth"}')) == [
        40,
        35,
        30,
    ]
    assert offsets(query_range(client, '{namespace="samosachaat-prod", app!~"a.*|i.*"}')) == [35]
    assert offsets(query_range(client, '{service_name="worker"}')) == [60, 50]


def test_logfmt_and_duration_filter(loki: tuple[Any, Any]) -> None:
    data = query_range(loki[1], '{service="worker"} | logfmt | latency > 2s')
    assert offsets(data) == [50]
    assert data["result"][0]["stream"]["msg"] == "slow job"
    assert offsets(query_range(loki[1], '{service="worker"} | logfmt | latency < 1s')) == [60]


def test_line_format(loki: tuple[Any, Any]) -> None:
    data = query_range(
        loki[1],
        '{app="auth", namespace="samosachaat-prod"} | json '
        '| line_format "{{.status_code}} {{ .path }}"',
        direction="forward",
    )
    assert [line for _, line in sorted(lines(data))] == [
        "429 /auth/oauth/google",
        "200 /auth/login",
        "500 /auth/oauth/github",
    ]


def test_limit_and_direction(loki: tuple[Any, Any]) -> None:
    client = loki[1]
    selector = '{namespace="samosachaat-prod"}'
    assert offsets(query_range(client, selector, limit=2)) == [40, 35]
    forward = query_range(client, selector, limit=2, direction="FORWARD")
    assert sorted(offsets(forward)) == [5, 15]


def test_metric_queries_over_a_range(loki: tuple[Any, Any]) -> None:
    client = loki[1]
    # Steps T0, T0+60, T0+120: only (T0, T0+60] holds lines (5 .. 40 s).
    params = {"start": T0_NS, "end": T0_NS + 120 * S, "step": "60000ms"}
    data = query_range(
        client,
        'sum by (level) (count_over_time({namespace="samosachaat-prod"}[1m]))',
        **params,
    )
    assert data["resultType"] == "matrix"
    t60 = (T0_NS + 60 * S) // S
    assert data["result"] == [
        {"metric": {"level": "error"}, "values": [[t60, "3"]]},
        {"metric": {"level": "info"}, "values": [[t60, "3"]]},
    ]
    top = query_range(
        client,
        'topk(1, sum by (app) (count_over_time({namespace="samosachaat-prod"}[1m])))',
        **params,
    )["result"]
    assert top == [{"metric": {"app": "auth"}, "values": [[t60, "3"]]}]
    # bytes_over_time: the three chat-api/inference lines' byte lengths, summed.
    sizes = [
        len(line.encode()) for _, line in lines(query_range(client, '{app=~"chat-api|inference"}'))
    ]
    data = query_range(client, 'sum(bytes_over_time({app=~"chat-api|inference"}[1m]))', **params)
    assert data["result"] == [{"metric": {}, "values": [[t60, str(sum(sizes))]]}]
    # unwrap: the sum of inference times in the minute, 6500 + 3000.
    data = query_range(
        client,
        'sum(sum_over_time({app="inference"} | json | unwrap inference_time_ms [1m]))',
        **params,
    )
    assert data["result"] == [{"metric": {}, "values": [[t60, "9500"]]}]


def test_metric_query_with_parse_errors_is_refused_like_loki(loki: tuple[Any, Any]) -> None:
    response = loki[1].get(
        "/loki/api/v1/query",
        params={
            "query": 'count_over_time({service="gateway"} | json [5m])',
            "time": T0_NS + 300 * S,
        },
    )
    assert response.status_code == 400
    assert "pipeline error" in response.text and "JSONParserErr" in response.text


# -- Grafana's requests ---------------------------------------------------------------


def test_grafana_health_check(loki: tuple[Any, Any]) -> None:
    # Grafana's Loki check (pkg/tsdb/loki/healthcheck.go): an instant query of
    # vector(1)+vector(1) over the range 1 s .. 4 s, sent as time=End.UnixNano() =
    # "4000000000", which Loki reads as *seconds* (10 digits or fewer): so do we.
    response = loki[1].get(
        "/loki/api/v1/query",
        params={"query": "vector(1)+vector(1)", "time": "4000000000", "direction": ""},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["result"] == [{"metric": {}, "value": [4000000000, "2"]}]


def test_grafana_range_query_ns_and_ms_step_with_bearer(loki: tuple[Any, Any]) -> None:
    hub, client = loki
    _, key = hub.keyring.create("read")
    response = client.get(
        "/loki/api/v1/query_range",
        params={
            "query": 'count_over_time({app="auth"}[1m])',
            "direction": "backward",
            "limit": "1000",
            "start": str(T0_NS),
            "end": str(T0_NS + 60 * S),
            "step": "30000ms",
        },
        headers={"X-API-Key": "", "Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    result = response.json()["data"]["result"]
    # Steps T0, T0+30, T0+60; (T0-30, T0+30]: a1, a2, a3 at 5/15/25 (error 2, info 1);
    # (T0+30, T0+60]: staging s1 at 45.
    t30, t60 = (T0_NS + 30 * S) // S, (T0_NS + 60 * S) // S
    got = {(r["metric"]["namespace"], r["metric"]["level"]): r["values"] for r in result}
    assert got == {
        ("samosachaat-prod", "error"): [[t30, "2"], [t60, "2"]],
        ("samosachaat-prod", "info"): [[t30, "1"], [t60, "1"]],
        ("samosachaat-staging", "error"): [[t60, "1"]],
    }


def test_time_formats(loki: tuple[Any, Any]) -> None:
    client = loki[1]
    query = '{app="inference"}'
    for start, end in [
        ("2026-01-10T12:00:00Z", "2026-01-10T13:00:00Z"),
        (str(T0_NS // S), str((T0_NS + HOUR) // S)),
        (f"{T0_NS / S:.3f}", f"{(T0_NS + HOUR) / S:.3f}"),
    ]:
        assert offsets(query_range(client, query, start=start, end=end)) == [40, 30]
    assert offsets(query_range(client, query, start=str(T0_NS + 35 * S))) == [40]


def test_query_builder_labels_and_values(loki: tuple[Any, Any]) -> None:
    client = loki[1]
    labels = client.get("/loki/api/v1/labels", params=WINDOW).json()
    assert labels == {
        "status": "success",
        "data": ["app", "event_type", "level", "namespace", "service", "stack_name"],
    }
    values = client.get("/loki/api/v1/label/app/values", params=WINDOW).json()
    assert values["data"] == ["auth", "chat-api", "inference"]
    scoped = client.get(
        "/loki/api/v1/label/level/values",
        params={**WINDOW, "query": '{namespace="samosachaat-staging"}'},
    ).json()
    assert scoped["data"] == ["error"]
    services = client.get("/loki/api/v1/label/service/values", params=WINDOW).json()["data"]
    assert services == ["auth", "chat-api", "gateway", "inference", "worker"]


def test_series_and_index_stats(loki: tuple[Any, Any]) -> None:
    client = loki[1]
    series = client.get(
        "/loki/api/v1/series", params={**WINDOW, "match[]": '{app="inference"}'}
    ).json()
    assert series["data"] == [
        {
            "app": "inference",
            "event_type": "log",
            "level": "info",
            "namespace": "samosachaat-prod",
            "service": "inference",
            "stack_name": "samosachaat",
        }
    ]
    stats = client.get(
        "/loki/api/v1/index/stats", params={**WINDOW, "query": '{app="inference"}'}
    ).json()
    inference = [line for _, line in lines(query_range(client, '{app="inference"}'))]
    assert stats == {
        "streams": 1,
        "chunks": 1,
        "entries": 2,
        # message bytes plus the stored attributes ({"app":..,"namespace":..}) per line
        "bytes": stats["bytes"],
    }
    assert stats["bytes"] > sum(len(line) for line in inference)


# -- stack isolation ------------------------------------------------------------------


def test_stack_bound_key_sees_only_its_streams(loki: tuple[Any, Any]) -> None:
    hub, client = loki
    _, prod_key = hub.keyring.create("read", stack="prod")
    bearer = {"X-API-Key": "", "Authorization": f"Bearer {prod_key}"}
    probe = client.get(
        "/loki/api/v1/query_range",
        params={"query": '{stack_name="samosachaat"}', **WINDOW},
        headers=bearer,
    )
    assert probe.status_code == 200 and probe.json()["data"]["result"] == []
    mine = client.get(
        "/loki/api/v1/query_range",
        params={"query": '{stack_name=~".+"}', **WINDOW, "limit": 100},
        headers=bearer,
    ).json()["data"]["result"]
    assert {s["stream"]["stack_name"] for s in mine} == {"prod"}
    assert sum(len(s["values"]) for s in mine) == 8  # 5 gateway + 2 worker + n1
    apps = client.get("/loki/api/v1/label/app/values", params=WINDOW, headers=bearer).json()
    assert apps["data"] == []
    stacks = client.get(
        "/loki/api/v1/label/stack_name/values", params=WINDOW, headers=bearer
    ).json()
    assert stacks["data"] == ["prod"]
    metric = client.get(
        "/loki/api/v1/query",
        params={"query": 'sum(count_over_time({namespace=~".+"}[1h]))', "time": T0_NS + HOUR},
        headers=bearer,
    ).json()["data"]["result"]
    assert metric == []
    series = client.get(
        "/loki/api/v1/series", params={**WINDOW, "match[]": '{app=~".+"}'}, headers=bearer
    ).json()
    assert series["data"] == []


def test_auth_is_required(loki: tuple[Any, Any]) -> None:
    hub, client = loki
    response = client.get(
        "/loki/api/v1/labels", headers={"X-API-Key": "", "Authorization": "Bearer nope"}
    )
    assert response.status_code == 401
    _, ingest = hub.keyring.create("ingest")
    assert client.get("/loki/api/v1/labels", headers={"X-API-Key": ingest}).status_code == 403


# -- errors and bounds ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"query": '{app="auth"'}, "parse error"),
        ({"query": "{}"}, "at least one"),
        ({"query": '{app=~".*"}'}, "empty-compatible"),
        ({"query": '{app="auth"} | pattern "<x>"'}, "pattern"),
        ({"query": '{app="auth"}', "limit": "5001"}, "max_entries_limit"),
        ({"query": '{app="auth"}', "limit": "0"}, "limit"),
        ({"query": '{app="auth"}', "start": "yesterday"}, "invalid start"),
        ({"query": '{app="auth"}', "direction": "sideways"}, "direction"),
        ({"query": '{app="auth"}', "step": "0"}, "step"),
        (
            {"query": '{app="auth"}', "start": "0", "end": str(T0_NS)},
            "max_query_length",
        ),
        (
            {"query": 'rate({app="auth"}[1m])', "step": "100ms"},
            "maximum resolution of 11000 points",
        ),
        ({"query": '{app=~"(a+)+"}'}, "repeats a repeated group"),
        ({"query": '{app="auth"} |~ "(x+x+)+y"'}, "repeats a repeated group"),
        ({"query": '{app="auth"} | json | path=~"(?=a)"'}, "'(?=' is not supported"),
        ({"query": '{app="auth"} |~ "("'}, "invalid regular expression"),
        ({"query": '{app="auth"} | json | x > "3"'}, "number or duration"),
        ({"query": '{app="auth"} | line_format "{{ if .x }}"'}, "line_format"),
    ],
)
def test_bad_requests_are_400_plain_text(
    loki: tuple[Any, Any], params: dict[str, str], needle: str
) -> None:
    response = loki[1].get("/loki/api/v1/query_range", params={**WINDOW, **params})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert needle in response.text


def test_log_query_on_instant_endpoint_is_refused(loki: tuple[Any, Any]) -> None:
    response = loki[1].get("/loki/api/v1/query", params={"query": '{app="auth"}'})
    assert response.status_code == 400
    assert "instant query" in response.text


def test_structured_metadata_filters_without_splitting_series(hub: Any, client: Any) -> None:
    now = hub.clock()
    other = "0af7651916cd43dd8448eb211c80319c"
    body = {
        "streams": [
            {
                "stream": {"app": "api"},
                "values": [
                    [str(now - 3 * S), "one", {"trace_id": TRACE}],
                    [str(now - 2 * S), "two", {"trace_id": other}],
                    [str(now - 1 * S), "three"],
                ],
            }
        ]
    }
    pushed = client.post("/loki/api/v1/push", json=body, headers={"X-Scope-OrgID": "meta"})
    assert pushed.status_code == 204, pushed.text
    hub.flush()
    window = {"start": str(now - 60 * S), "end": str(now)}
    data = client.get(
        "/loki/api/v1/query_range", params={"query": f'{{app="api", trace_id="{TRACE}"}}', **window}
    ).json()["data"]
    assert [v[1] for s in data["result"] for v in s["values"]] == ["one"]
    filtered = client.get(
        "/loki/api/v1/query_range",
        params={"query": f'{{app="api"}} | trace_id!="{TRACE}"', **window},
    ).json()["data"]
    assert sorted(v[1] for s in filtered["result"] for v in s["values"]) == ["three", "two"]
    # after | json, a line whose text lacks the id keeps its own (metadata) trace_id
    parsed = client.get(
        "/loki/api/v1/query_range",
        params={"query": f'{{app="api"}} | json | trace_id="{TRACE}"', **window},
    ).json()["data"]
    assert [v[1] for s in parsed["result"] for v in s["values"]] == ["one"]
    # One stream, one series: the trace ids do not split them.
    everything = client.get(
        "/loki/api/v1/query_range", params={"query": '{app="api"}', **window}
    ).json()["data"]["result"]
    assert len(everything) == 1 and "trace_id" not in everything[0]["stream"]
    counted = client.get(
        "/loki/api/v1/query",
        params={"query": 'count_over_time({app="api"}[1m])', "time": str(now)},
    ).json()["data"]["result"]
    assert [r["value"][1] for r in counted] == ["3"]
    names = client.get("/loki/api/v1/labels", params=window).json()["data"]
    assert "trace_id" in names
    # a line whose JSON escapes a character of the id (its first, as \u0034) is parsed,
    # not passed over for want of the id's text
    escaped = '{"trace_id":"\\u00' + f'{ord(TRACE[0]):x}{TRACE[1:]}"' + "}"
    body = {"streams": [{"stream": {"app": "esc"}, "values": [[str(now - S), escaped]]}]}
    assert (
        client.post("/loki/api/v1/push", json=body, headers={"X-Scope-OrgID": "meta"}).status_code
        == 204
    )
    hub.flush()
    found = client.get(
        "/loki/api/v1/query_range",
        params={"query": f'{{app="esc"}} | json | trace_id="{TRACE}"', **window},
    ).json()["data"]
    assert [v[1] for s in found["result"] for v in s["values"]] == [escaped]


def test_store_counted_windows_are_closed_on_the_right(loki: tuple[Any, Any]) -> None:
    client = loki[1]
    # Worker lines at exactly T0+50 and T0+60; 10 s steps from T0+40 to T0+70.
    params = {"start": T0_NS + 40 * S, "end": T0_NS + 70 * S, "step": "10"}
    t50, t60 = (T0_NS + 50 * S) // S, (T0_NS + 60 * S) // S
    counted = query_range(
        client, 'sum by (service) (count_over_time({service="worker"}[10s]))', **params
    )
    # logfmt makes the same count go line by line: both paths agree.
    by_line = query_range(
        client, 'sum by (service) (count_over_time({service="worker"} | logfmt [10s]))', **params
    )
    expected = [{"metric": {"service": "worker"}, "values": [[t50, "1"], [t60, "1"]]}]
    assert counted["result"] == expected
    assert by_line["result"] == expected


def test_line_filters_on_rendered_lines_still_count(loki: tuple[Any, Any]) -> None:
    # "gpt" is only in n1's rendered line (an llm_call at T0+100), not in any message.
    response = loki[1].get(
        "/loki/api/v1/query",
        params={
            "query": 'count_over_time({service="gateway"} |= "gpt" [5m])',
            "time": T0_NS + 300 * S,
        },
    )
    assert response.json()["data"]["result"] == [
        {
            "metric": {"event_type": "llm_call", "service": "gateway", "stack_name": "prod"},
            "value": [(T0_NS + 300 * S) // S, "1"],
        }
    ]


def test_lines_read_and_series_are_bounded(loki: tuple[Any, Any]) -> None:
    from stacklens.api.loki_query import LOKI_BOUNDS
    from stacklens.logql.engine import Bounds

    client = loki[1]
    LOKI_BOUNDS.provide(client.app, Bounds(max_scan_lines=3, max_series=2))
    try:
        # Six prod lines go through `| json` in Python: past 3, a 400 naming the bound.
        parsed = client.get(
            "/loki/api/v1/query_range",
            params={"query": '{namespace="samosachaat-prod"} | json', **WINDOW},
        )
        assert parsed.status_code == 400 and "max_scan_lines" in parsed.text
        # The store counts them itself: not bounded by lines read; two series fit.
        at = {"time": T0_NS + HOUR}
        counted = client.get(
            "/loki/api/v1/query",
            params={"query": 'sum by (level) (count_over_time({namespace=~".+"}[1h]))', **at},
        )
        assert counted.status_code == 200, counted.text
        assert {r["metric"]["level"]: r["value"][1] for r in counted.json()["data"]["result"]} == {
            "error": "4",
            "info": "3",
        }
        # Per app there are three series: past 2, a 400 naming the bound.
        split = client.get(
            "/loki/api/v1/query",
            params={"query": 'sum by (app) (count_over_time({namespace=~".+"}[1h]))', **at},
        )
        assert split.status_code == 400 and "max_query_series" in split.text
    finally:
        LOKI_BOUNDS.provide(client.app, Bounds())


def test_grafana_log_volume_query(loki: tuple[Any, Any]) -> None:
    # Explore's log volume histogram: count by level, with `| drop __error__`.
    data = query_range(
        loki[1],
        'sum by (level) (count_over_time({namespace="samosachaat-prod"} | drop __error__ [1m]))',
        start=T0_NS,
        end=T0_NS + 120 * S,
        step="60000ms",
    )
    t60 = (T0_NS + 60 * S) // S
    assert data["result"] == [
        {"metric": {"level": "error"}, "values": [[t60, "3"]]},
        {"metric": {"level": "info"}, "values": [[t60, "3"]]},
    ]
    # drop/keep on a log query: the streams merge once the label is gone.
    kept = query_range(loki[1], '{namespace="samosachaat-prod"} | keep app')
    assert sorted(s["stream"]["app"] for s in kept["result"]) == ["auth", "chat-api", "inference"]
    assert all(set(s["stream"]) == {"app"} for s in kept["result"])
    dropped = query_range(
        loki[1], 'count_over_time({app="auth"} | drop level, namespace [1h])', start=T0_NS + HOUR
    )
    assert [r["metric"] for r in dropped["result"]] == [
        {"app": "auth", "event_type": "log", "service": "auth", "stack_name": "samosachaat"}
    ]
    assert dropped["result"][0]["values"][0][1] == "4"


def test_pages_of_rows_join_without_loss_or_repeat(loki: tuple[Any, Any]) -> None:
    from stacklens.logql.engine import Bounds, Scan, _rows
    from stacklens.logql.parser import parse_query
    from stacklens.logql.syntax import LogQuery

    hub = loki[0]
    query = parse_query('{stack_name=~".+"} | json | __error__=""')
    assert isinstance(query, LogQuery)

    def read(page: int, direction: Any) -> list[tuple[int, str]]:
        found = _rows(
            hub.store,
            query,
            stacks=None,
            since_ns=T0_NS,
            until_ns=T0_NS + HOUR,
            direction=direction,
            bounds=Bounds(),
            scan=Scan(),
            page=page,
        )
        return [(ts, line) for ts, line, _, _ in found]

    for direction in ("forward", "backward"):
        whole = read(2000, direction)
        # 15 stored (5 gateway, 2 worker, n1, 3 auth, 2 inference, 1 chat-api, 1 staging);
        # the plain gateway line and the 2 logfmt worker lines fail `| json`.
        assert len(whole) == 12
        assert read(2, direction) == whole and read(3, direction) == whole
        assert [ts for ts, _ in whole] == sorted(
            (ts for ts, _ in whole), reverse=direction == "backward"
        )
