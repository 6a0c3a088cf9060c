"""The PromQL engine over the hand-checked dataset of ``conftest.py``, every figure
worked out by hand there or here, on every store backend."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import numpy as np
import pytest

from stacklens.promql.engine import PromQLEngine
from stacklens.promql.model import LimitError, Limits, PromQLError, UnsupportedError
from stacklens.testing.backends import BACKENDS, Backend
from stacklens.testing.promql import EVENTS, POINTS, at, at_s, make_engine

T = int(at(10, 5) // 10**6)  # 10:05:00, ms


def instant(
    engine: PromQLEngine, query: str, t_ms: int = T, stacks: tuple[str, ...] | None = None
) -> dict[frozenset[tuple[str, str]], float]:
    data = engine.instant(query, t_ms, stacks)
    assert data["resultType"] == "vector", data
    return {frozenset(r["metric"].items()): float(r["value"][1]) for r in data["result"]}


def one(engine: PromQLEngine, query: str, t_ms: int = T) -> float:
    [value] = instant(engine, query, t_ms).values()
    return value


def ms(hour: int, minute: int, second: int = 0) -> int:
    return int(at(hour, minute, second) // 10**6)


def L(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


TOK = "opencode_tokens_total"
ALPHA_IN = f'{TOK}{{stack_name="alpha",direction="input"}}'


def test_instant_selector_and_every_matcher(engine: PromQLEngine) -> None:
    alpha = L(__name__=TOK, stack_name="alpha", model="gpt-4o", direction="input")
    beta_in = L(__name__=TOK, stack_name="beta", model="gpt-4o-mini", direction="input")
    beta_out = L(__name__=TOK, stack_name="beta", model="gpt-4o-mini", direction="output")
    # 50 (the day before) + 100 + 200 + 300
    assert instant(engine, f'{TOK}{{direction="input"}}') == {alpha: 650.0, beta_in: 1000.0}
    assert instant(engine, f'{{__name__="{TOK}", stack_name!="alpha"}}') == {
        beta_in: 1000.0,
        beta_out: 20.0,
    }
    assert instant(engine, f'{TOK}{{model=~"gpt-4o-.*"}}') == {beta_in: 1000.0, beta_out: 20.0}
    assert instant(engine, f'{TOK}{{model!~"gpt-4o-.*"}}') == {alpha: 650.0}
    # the 10:01:00 sample counts the events before it: the day before's and 10:00:05's
    assert instant(engine, ALPHA_IN, ms(10, 1)) == {alpha: 150.0}
    assert instant(engine, ALPHA_IN, ms(10, 0)) == {alpha: 50.0}
    # beta's series starts with the first sample after its first event (10:03:30)
    assert set(instant(engine, f'{TOK}{{direction="input"}}', ms(10, 3))) == {alpha}


def test_offset_moves_the_evaluation_back(engine: PromQLEngine) -> None:
    assert one(engine, f"{ALPHA_IN} offset 4m") == 150.0
    # a negative offset looks ahead: 10:00:10 + 2 min = 10:02:10, the 10:02:00 sample
    assert one(engine, f"{ALPHA_IN} offset -2m", ms(10, 0, 10)) == 350.0
    assert one(engine, f"{ALPHA_IN} offset -2m", ms(10, 0, 30)) == 650.0


def test_rate_increase_irate_delta(engine: PromQLEngine) -> None:
    # [10:00:00, 10:05:00]: 21 samples from 50 to 650, both ends on the window's edges:
    # no extrapolation; increase 600, rate 600 / 300 s
    assert one(engine, f"increase({ALPHA_IN}[5m])") == pytest.approx(600.0)
    assert one(engine, f"rate({ALPHA_IN}[5m])") == pytest.approx(2.0)
    # the last two samples before 10:02:15: 350 at 10:02:00, 650 at 10:02:15 → 300/15 s
    assert one(engine, f"irate({ALPHA_IN}[1m])", ms(10, 2, 15)) == pytest.approx(20.0)
    assert one(engine, f"irate({ALPHA_IN}[1m])") == 0.0
    # [10:01:30, 10:02:30]: 350 → 650 over exactly the window
    assert one(engine, f"delta({ALPHA_IN}[1m])", ms(10, 2, 30)) == pytest.approx(300.0)
    # beta appears at 10:03:30 already at 1000: no increase is seen
    got = instant(engine, f'increase({TOK}{{stack_name="beta",direction="input"}}[5m])')
    assert list(got.values()) == [0.0]


def test_rate_extrapolates_as_prometheus_does(engine: PromQLEngine) -> None:
    # [10:00:10, 10:05:10] holds 10:00:15 (150) .. 10:05:00 (650): 20 samples, 285 s
    # apart, 5 s from each edge (< 1.1 x 15 s: extrapolated all the way): 500 x 300/285
    got = one(engine, f"increase({ALPHA_IN}[5m])", ms(10, 5, 10))
    assert got == pytest.approx(500 * 300 / 285)
    # to_zero = 285 x 150/500 = 85.5 s is further than the start: it does not shorten


def test_over_time_functions(engine: PromQLEngine) -> None:
    # [10:01:30, 10:02:30]: 350, 350, 350, 650, 650
    t = ms(10, 2, 30)
    assert one(engine, f"max_over_time({ALPHA_IN}[1m])", t) == 650.0
    assert one(engine, f"min_over_time({ALPHA_IN}[1m])", t) == 350.0
    assert one(engine, f"avg_over_time({ALPHA_IN}[1m])", t) == pytest.approx(470.0)
    assert one(engine, f"sum_over_time({ALPHA_IN}[1m])", t) == 2350.0
    assert one(engine, f"count_over_time({ALPHA_IN}[1m])", t) == 5.0
    assert one(engine, f"last_over_time({ALPHA_IN}[1m])", t) == 650.0
    assert one(engine, f"changes({ALPHA_IN}[1m])", t) == 1.0
    assert one(engine, f"quantile_over_time(0.5, {ALPHA_IN}[1m])", t) == 350.0


def test_histogram_families_and_quantiles(engine: PromQLEngine) -> None:
    name = "opencode_response_duration_seconds"
    # durations 0.5 (day before), 1, 3, 7 s alpha; 0.4 s beta
    assert instant(engine, f"{name}_count") == {
        L(__name__=f"{name}_count", stack_name="alpha", model="gpt-4o"): 4.0,
        L(__name__=f"{name}_count", stack_name="beta", model="gpt-4o-mini"): 1.0,
    }
    sums = instant(engine, f'{name}_sum{{stack_name="alpha"}}')
    assert list(sums.values()) == [pytest.approx(11.5)]
    buckets = instant(engine, f'{name}_bucket{{stack_name="alpha"}}')
    by_le = {dict(k)["le"]: v for k, v in buckets.items()}
    assert by_le == {
        "0.5": 1.0, "1.0": 2.0, "2.0": 2.0, "5.0": 3.0, "10.0": 4.0,
        "30.0": 4.0, "60.0": 4.0, "120.0": 4.0, "+Inf": 4.0,
    }  # fmt: skip
    # all five: cumulative 0.5:2, 1:3 ... rank 2.5 in (0.5, 1]: 0.5 + 0.5 x 0.5/1
    q = f"histogram_quantile(0.5, sum by (le) ({name}_bucket))"
    assert one(engine, q) == pytest.approx(0.75)
    # rates over [10:00, 10:05]: alpha gains 1 in le=1, 1 in 5, 1 in 10 (beta none seen):
    # cumulative 0:0, 1:1, 5:2, 10:3; rank 0.9 x 3 = 2.7 in (5, 10]: 5 + 5 x 0.7
    q = f"histogram_quantile(0.9, sum by (le) (rate({name}_bucket[5m])))"
    assert one(engine, q) == pytest.approx(8.5)


def test_aggregations(engine: PromQLEngine) -> None:
    # alpha input 650, beta input 1000, beta output 20
    assert one(engine, f"sum({TOK})") == 1670.0
    assert instant(engine, f"sum by (stack_name) ({TOK})") == {
        L(stack_name="alpha"): 650.0,
        L(stack_name="beta"): 1020.0,
    }
    assert one(engine, f"avg({TOK})") == pytest.approx(1670 / 3)
    assert one(engine, f"min({TOK})") == 20.0
    assert one(engine, f"max({TOK})") == 1000.0
    assert one(engine, f"count({TOK})") == 3.0
    assert instant(engine, f"count without (model, direction) ({TOK})") == {
        L(stack_name="alpha"): 1.0,
        L(stack_name="beta"): 2.0,
    }
    assert set(instant(engine, f"topk(2, {TOK})").values()) == {1000.0, 650.0}
    [(labels, low)] = instant(engine, f"bottomk(1, {TOK})").items()
    assert (dict(labels)["direction"], low) == ("output", 20.0)
    assert one(engine, f"quantile(0.5, {TOK})") == 650.0
    assert one(engine, f"quantile(0.25, {TOK})") == pytest.approx(20 + 0.5 * 630)


def test_binary_operators(engine: PromQLEngine) -> None:
    d = "opencode_response_duration_seconds"
    assert set(instant(engine, f'{TOK}{{direction="input"}} * 2').values()) == {1300.0, 2000.0}
    assert one(engine, "2 - opencode_errors_total") == 1.0  # a3 failed
    filtered = instant(engine, f"{TOK} > 600")
    assert sorted(filtered.values()) == [650.0, 1000.0]
    assert all(dict(k)["__name__"] == TOK for k in filtered)  # a filter keeps the name
    assert sorted(instant(engine, f"{TOK} > bool 600").values()) == [0.0, 1.0, 1.0]
    assert engine.instant("1 < bool 2", T, None)["result"][1] == "1"
    # one-to-one on all labels but the name: 11.5/4 and 0.4/1
    assert instant(engine, f"{d}_sum / {d}_count") == {
        L(stack_name="alpha", model="gpt-4o"): pytest.approx(2.875),
        L(stack_name="beta", model="gpt-4o-mini"): pytest.approx(0.4),
    }
    got = instant(engine, f'{TOK}{{direction="input"}} / on(stack_name) group_left {d}_count')
    assert got == {
        L(stack_name="alpha", model="gpt-4o", direction="input"): 162.5,
        L(stack_name="beta", model="gpt-4o-mini", direction="input"): 1000.0,
    }
    got = instant(engine, f"{d}_count / on(stack_name) group_right {TOK}")
    assert sorted(got.values()) == pytest.approx(sorted([4 / 650, 1 / 1000, 1 / 20]))
    got = instant(engine, f"opencode_errors_total * on(stack_name) group_left(model) {d}_count")
    assert got == {L(stack_name="alpha", model="gpt-4o"): 4.0}
    assert set(instant(engine, f"{TOK} and on(stack_name) opencode_errors_total").values()) == {
        650.0
    }
    assert sorted(
        instant(engine, f"{TOK} unless on(stack_name) opencode_errors_total").values()
    ) == [20.0, 1000.0]
    assert list(instant(engine, "opencode_errors_total or opencode_sessions_total").values()) == [
        1.0
    ]
    with pytest.raises(PromQLError, match="many-to-many"):
        engine.instant(f"{TOK} / on(stack_name) {TOK}", T, None)


def test_functions(engine: PromQLEngine) -> None:
    beta = f'{TOK}{{stack_name="beta"}}'
    assert sorted(instant(engine, f"clamp_min({beta}, 100)").values()) == [100.0, 1000.0]
    assert sorted(instant(engine, f"clamp_max({beta}, 100)").values()) == [20.0, 100.0]
    assert one(engine, "abs(-opencode_errors_total)") == 1.0
    assert instant(engine, "vector(3)") == {L(): 3.0}
    assert engine.instant("scalar(opencode_errors_total)", T, None)["result"][1] == "1"
    assert engine.instant("time()", T, None)["result"] == [T // 1000, str(T // 1000)]
    assert instant(engine, 'absent(no_such_metric{job="x"})') == {L(job="x"): 1.0}


def test_range_query_steps_and_values(engine: PromQLEngine) -> None:
    data = engine.range(f'sum({TOK}{{direction="input"}})', ms(10, 0), ms(10, 4), 60_000, None)
    [series] = data["result"]
    expected = ["50", "150", "350", "650", "1650"]  # 10:04 adds beta's 1000
    assert series["values"] == [[int(at_s(10, m)), v] for m, v in enumerate(expected)]
    # steps not on the grid take the newest sample before them
    data = engine.range(ALPHA_IN, ms(10, 0, 10), ms(10, 2, 10), 60_000, None)
    assert [v for _, v in data["result"][0]["values"]] == ["50", "150", "350"]
    # the error counter exists from 10:02:15 on
    data = engine.range("opencode_errors_total", ms(10, 0), ms(10, 4), 60_000, None)
    assert data["result"][0]["values"] == [[int(at_s(10, 3)), "1"], [int(at_s(10, 4)), "1"]]
    scalar = engine.range("1+1", ms(10, 0), ms(10, 1), 30_000, None)
    assert scalar["result"] == [
        {"metric": {}, "values": [[int(at_s(10, 0, s)), "2"] for s in (0, 30, 60)]}
    ]


@pytest.mark.parametrize(
    "query",
    [
        f"rate({TOK}[2m])",  # fractions
        f"{TOK} * 1e20",  # past an exponent's threshold
        f"{TOK} / 1e9",
        f"-{TOK} / 0",  # -Inf
        f"{TOK} - {TOK}",  # 0
    ],
)
def test_encoded_range_answers_are_the_same_json(engine: PromQLEngine, query: str) -> None:
    for start, step in ((ms(10, 0), 60_000), (ms(10, 0) + 500, 7_500)):  # whole, half seconds
        data = engine.range(query, start, ms(10, 5), step, None)
        encoded = engine.range(query, start, ms(10, 5), step, None, encoded=True)
        assert data["result"], query
        assert msgspec.json.decode(msgspec.json.encode(encoded)) == data


def test_otel_points_as_series(engine: PromQLEngine) -> None:
    base = {"__name__": "gpu_util", "stack_name": "alpha", "service_name": "gpu-node"}
    assert instant(engine, "gpu_util") == {
        L(**base, gpu_id="0"): 90.0,
        L(**base, gpu_id="1"): 70.0,
    }
    assert instant(engine, "gpu_util", ms(10, 4, 20)) == {
        L(**base, gpu_id="0"): 50.0,
        L(**base, gpu_id="1"): 70.0,
    }
    assert one(engine, 'avg_over_time(gpu_util{gpu_id="0"}[1m])') == 70.0
    # lookback 5 min, both ends: 10:04:30 is seen at 10:09:30, not at 10:09:31
    assert set(instant(engine, "gpu_util", ms(10, 9, 30)).values()) == {90.0}
    assert instant(engine, "gpu_util", ms(10, 9, 31) + 0) == {}
    buckets = {dict(k)["le"]: v for k, v in instant(engine, "req_latency_bucket").items()}
    assert buckets == {"0.1": 1.0, "1.0": 3.0, "+Inf": 4.0}
    assert one(engine, "req_latency_count") == 4.0
    assert one(engine, "req_latency_sum") == 2.5
    # rank 2 in (0.1, 1] holding 1 → 3: 0.1 + 0.9 x (2 - 1)/2
    assert one(engine, "histogram_quantile(0.5, req_latency_bucket)") == pytest.approx(0.55)


def test_a_stack_bound_reader_sees_only_its_stack(engine: PromQLEngine) -> None:
    beta = ("beta",)
    got = instant(engine, TOK, stacks=beta)
    assert {dict(k)["stack_name"] for k in got} == {"beta"}
    assert instant(engine, "gpu_util", stacks=beta) == {}
    # a matcher naming another stack finds nothing, it does not widen the filter
    assert instant(engine, f'{TOK}{{stack_name="alpha"}}', stacks=beta) == {}
    assert engine.label_values("stack_name", [], 0, T, beta) == ["beta"]
    assert engine.label_values("stack_name", [], 0, T, None) == ["alpha", "beta"]
    names = engine.label_values("__name__", [], 0, T, beta)
    assert "gpu_util" not in names and TOK in names
    assert all(s["stack_name"] == "beta" for s in engine.series([TOK], 0, T, beta))


def test_series_and_labels(engine: PromQLEngine) -> None:
    series = engine.series(['{__name__=~"gpu_util|opencode_errors_total"}'], 0, T, None)
    assert series == sorted(series, key=lambda s: sorted(s.items()))
    assert {(s["__name__"], s.get("gpu_id", "")) for s in series} == {
        ("gpu_util", "0"),
        ("gpu_util", "1"),
        ("opencode_errors_total", ""),
    }
    assert engine.label_names(["gpu_util"], 0, T, None) == [
        "__name__",
        "gpu_id",
        "service_name",
        "stack_name",
    ]
    assert engine.label_values("model", [TOK], 0, T, None) == ["gpt-4o", "gpt-4o-mini"]


@pytest.mark.parametrize(
    ("limits", "query", "named"),
    [
        (Limits(max_series=2), TOK, "max_series"),
        (Limits(max_samples=10), f"rate({TOK}[5m])", "max_samples"),
        (Limits(max_range_s=86400), f"rate({TOK}[2d])", "max_range_s"),
        (Limits(max_query_chars=10), "sum(opencode_tokens_total)", "characters"),
    ],
)
def test_limits_are_named(backend: Backend, limits: Limits, query: str, named: str) -> None:
    with pytest.raises(LimitError, match=named):
        make_engine(backend, limits).instant(query, T, None)


def test_too_many_points_and_unsupported_parts(engine: PromQLEngine) -> None:
    with pytest.raises(PromQLError, match="11,000 points"):
        engine.range("1", 0, 20_000_000, 1000, None)
    for query, part in [
        (f"{TOK}[5m:1m]", "subqueries"),
        (f"{TOK} @ 100", "@ modifier"),
        (f'count_values("v", {TOK})', "count_values"),
        (f'label_replace({TOK}, "a", "b", "c", "d")', "label_replace"),
    ]:
        with pytest.raises(UnsupportedError, match=part):
            engine.instant(query, T, None)


@pytest.mark.parametrize("factory", BACKENDS, ids=lambda f: f.__name__)
def test_counter_history_survives_dropped_raw_days(factory: Any, tmp_path: Any) -> None:
    b: Backend = factory(tmp_path)
    try:
        b.load(EVENTS)
        b.load(POINTS, "metrics")
        b.store.drop_day("events", dt.date(2026, 1, 14))
        engine = make_engine(b)
        # the day before's 50 tokens are gone from the raw events but not from the total
        assert one(engine, ALPHA_IN, ms(10, 0)) == 50.0
        assert one(engine, ALPHA_IN) == 650.0
        assert one(engine, f"increase({ALPHA_IN}[5m])") == pytest.approx(600.0)
    finally:
        b.store.close()


@pytest.mark.parametrize("factory", BACKENDS, ids=lambda f: f.__name__)
def test_last_seen_before_a_window_whose_hour_holds_only_later_events(
    factory: Any, tmp_path: Any
) -> None:
    """The newest event before a window is read from the hour the hourly rollup names;
    when that hour's events are all after the window's start, the stack is read again
    over all its events, and its older newest event is found."""
    from stacklens.schema import EventRow
    from stacklens.testing.promql import NOW

    b: Backend = factory(tmp_path)
    try:
        gamma = [
            EventRow(event_id=f"g{i}", ts=ts, stack_name="gamma", event_type="message",
                     received_ns=NOW)
            for i, ts in enumerate((at(8, 0, day=-1), at(10, 50)))
        ]  # fmt: skip
        b.load([*EVENTS, *gamma])
        engine = make_engine(b)
        seen = 'stacklens_stack_last_seen_timestamp_seconds{stack_name="gamma"}'
        # a window from 10:10 (its samples from 10:05 on): gamma's 10:00 hour holds
        # only 10:50, after the window's start; the samples before it (those at or
        # before 10:50: a sample counts the events before it) show the day before's
        data = engine.range(seen, ms(10, 10), ms(10, 55), 60_000, None)
        [series] = data["result"]
        day_before, later = str(at(8, 0, day=-1) // 10**9), str(at(10, 50) // 10**9)
        assert [v for _, v in series["values"]] == [day_before] * 41 + [later] * 5
    finally:
        b.store.close()


def test_stack_last_seen_and_up_history(engine: PromQLEngine) -> None:
    seen = "stacklens_stack_last_seen_timestamp_seconds"
    # the newest event before each sample: a3 (10:02:05) by 10:05, a1 by 10:01
    assert instant(engine, seen) == {
        L(__name__=seen, stack_name="alpha"): at(10, 2, 5) / 10**9,
        L(__name__=seen, stack_name="beta"): at(10, 3, 20) / 10**9,
    }
    assert one(engine, f'{seen}{{stack_name="alpha"}}', ms(10, 1)) == at(10, 0, 5) / 10**9
    # at 10:00:00 only the day before's call
    assert one(engine, f'{seen}{{stack_name="alpha"}}', ms(10, 0)) == at(10, 0, day=-1) / 10**9
    up = 'stacklens_stack_up{stack_name="alpha"}'
    assert one(engine, up) == 1.0  # 10:02:05 is within 5 min of 10:05
    assert one(engine, up, ms(10, 7, 30)) == 0.0  # not of 10:07:30
    assert one(engine, up, ms(10, 0)) == 0.0  # a day old
    assert set(instant(engine, "stacklens_stack_up", ms(10, 3))) == {
        L(__name__="stacklens_stack_up", stack_name="alpha")
    }  # beta's first sample is 10:03:30


def recorded_reads(b: Backend) -> list[str]:
    """The statements ``b``'s store is asked from now on, in order (rows and Arrow)."""
    reads: list[str] = []
    fetch, fetch_arrow = b.store.fetch, b.store.fetch_arrow
    b.store.fetch = lambda *a: (reads.append(a[0]), fetch(*a))[1]  # type: ignore[method-assign]
    b.store.fetch_arrow = lambda *a: (reads.append(a[0]), fetch_arrow(*a))[1]  # type: ignore[method-assign]
    return reads


@pytest.mark.parametrize("factory", BACKENDS, ids=lambda f: f.__name__)
def test_one_query_reads_a_family_once_and_the_next_reads_again(
    factory: Any, tmp_path: Any
) -> None:
    b: Backend = factory(tmp_path)
    try:
        b.load(EVENTS[:2])  # alpha: 50 then 100 input tokens
        engine = make_engine(b)
        reads = recorded_reads(b)
        # the same family three times over one window: each statement once
        query = f"increase({ALPHA_IN}[5m]) + increase({TOK}[5m]) - increase({ALPHA_IN}[5m])"
        assert len(instant(engine, query)) == 1
        hub = [r for r in reads if "metric_points" not in r]  # the OTel source's own
        assert len(hub) == len(set(hub)) == 2  # totals; increments and what followed them
        assert one(engine, ALPHA_IN) == 150.0
        b.load(EVENTS[2:3])  # 200 more: the next query sees them
        assert one(engine, ALPHA_IN) == 350.0
    finally:
        b.store.close()


@pytest.mark.parametrize("factory", BACKENDS, ids=lambda f: f.__name__)
def test_a_querys_families_are_read_together_and_each_answers_as_alone(
    factory: Any, tmp_path: Any
) -> None:
    b: Backend = factory(tmp_path)
    try:
        b.load(EVENTS)
        engine = make_engine(b)
        # alone: 1 failed call (a3); 5 calls in all, in four duration bounds (a _count
        # sums its bounds); 1,670 tokens in and out
        errors = one(engine, "sum(opencode_errors_total)")
        calls = one(engine, "sum(opencode_response_duration_seconds_count)")
        tokens = one(engine, f"sum({TOK})")
        assert (errors, calls, tokens) == (1.0, 5.0, 1670.0)
        reads = recorded_reads(b)
        names = "opencode_response_duration_seconds_count|opencode_tokens_total"
        query = f'sum(opencode_errors_total) / sum({{__name__=~"{names}"}})'
        assert one(engine, query) == errors / (calls + tokens)
        hub = [r for r in reads if "metric_points" not in r]
        assert len(hub) == 2  # three families, two selectors: one totals, one increments
        # a range over the minutes (whole-minute step and bounds): the same together
        reads.clear()
        window = (
            f'sum(increase(opencode_errors_total[5m])) + sum(increase({{__name__=~"{names}"}}[5m]))'
        )
        together = engine.range(window, ms(10, 3), ms(10, 6), 60_000, None)["result"]
        # the totals again, the minutes, and the hub's 15 s grid from the raw events (the
        # error counter and beta's series start inside the window): one read each
        assert len([r for r in reads if "metric_points" not in r]) == 3
        parts = [
            engine.range(f"sum(increase({q}[5m]))", ms(10, 3), ms(10, 6), 60_000, None)["result"]
            for q in ("opencode_errors_total", "opencode_response_duration_seconds_count", TOK)
        ]
        expected = [sum(float(p[0]["values"][i][1]) for p in parts) for i in range(4)]
        assert [float(v) for _, v in together[0]["values"]] == pytest.approx(expected)
    finally:
        b.store.close()


@pytest.mark.parametrize("factory", BACKENDS, ids=lambda f: f.__name__)
def test_the_stored_metric_names_are_read_once_a_query_and_again_the_next(
    factory: Any, tmp_path: Any
) -> None:
    b: Backend = factory(tmp_path)
    try:
        b.load(EVENTS[:2])
        b.load(POINTS[:3], "metrics")  # gpu.util only
        engine = make_engine(b)
        reads = recorded_reads(b)
        # three selectors: each asks the OTel source which metrics are stored
        query = f"max(gpu_util) + count({ALPHA_IN}) - min(gpu_util)"
        assert one(engine, query, ms(10, 5)) == 90.0 + 1.0 - 70.0  # gpu 0 at 90, gpu 1 at 70
        assert len([r for r in reads if "GROUP BY name, kind" in r]) == 1
        # the same engine, a metric stored since: every later call sees it
        assert "req_latency" not in engine.metadata(None, None)
        b.load(POINTS[3:], "metrics")
        assert "req_latency" in engine.metadata(None, None)
        assert "req_latency_count" in engine.label_values("__name__", [], 0, ms(10, 5), None)
        assert one(engine, "req_latency_count", ms(10, 5)) == 4.0
    finally:
        b.store.close()


HIST = "opencode_response_duration_seconds_bucket"
LATTICE_QUERIES = [
    # (query, start, hub grid read): alpha's series began the day before, so every
    # window from 10:02 on sees it established (read every minute); beta's begins at
    # 10:03:30 and the error counter at 10:02:15, inside the windows (the 15 s grid)
    (f"sum by (stack_name) (rate({ALPHA_IN}[5m]))", ms(10, 2), 60_000),
    (f"sum by (stack_name) (rate({TOK}[5m]))", ms(10, 2), 15_000),
    (f"increase({ALPHA_IN}[10m]) > 100", ms(10, 5), 60_000),
    (f'histogram_quantile(0.9, sum by (le) (rate({HIST}{{stack_name="alpha"}}[5m])))',
     ms(10, 2), 15_000),
    ("sum(increase({__name__=~'opencode_response_duration_seconds_count|opencode_errors_total'"
     ",stack_name='alpha'}[5m] offset 2m))", ms(10, 2), 15_000),
    (f"last_over_time({ALPHA_IN}[5m]) - {ALPHA_IN} offset 1m", ms(10, 2), 60_000),
    ("min by (stack_name) (stacklens_stack_up) == 0", ms(10, 2), 60_000),
    ("stacklens_stack_last_seen_timestamp_seconds", ms(10, 2), 60_000),
]  # fmt: skip


@pytest.mark.parametrize(("query", "start", "read"), LATTICE_QUERIES)
def test_a_range_query_read_at_its_steps_answers_as_on_the_grid(
    engine: PromQLEngine, query: str, start: int, read: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stacklens.promql.engine as engine_module
    from stacklens.promql.hub_series import HubSeriesSource

    spacings: list[int] = []
    family = HubSeriesSource._family

    def spy(self: Any, name: str, stacks: Any, matchers: Any, grid: Any, res: int, limits: Any):  # type: ignore[no-untyped-def]
        spacings.append(res)
        return family(self, name, stacks, matchers, grid, res, limits)

    monkeypatch.setattr(HubSeriesSource, "_family", spy)
    coarse = engine.range(query, start, ms(11, 0), 60_000, None)
    assert coarse["result"], query
    assert (set(spacings) == {60_000}) if read == 60_000 else (15_000 in spacings)
    with monkeypatch.context() as m:
        m.setattr(engine_module, "lattice_ms", lambda *_: None)
        spacings.clear()
        assert engine.range(query, start, ms(11, 0), 60_000, None) == coarse
        assert set(spacings) == {15_000}


def test_a_query_reading_between_its_steps_reads_the_grid(engine: PromQLEngine) -> None:
    from stacklens.promql.evaluator import parse
    from stacklens.promql.model import Limits
    from stacklens.promql.spacing import lattice_ms

    steps = np.arange(0, 10 * 60_000, 60_000, dtype=np.int64)

    def spacing(query: str, at: Any = steps) -> int | None:
        return lattice_ms(parse(query, Limits()), at)

    assert spacing(f"rate({TOK}[5m])") == 60_000
    assert spacing(f"rate({TOK}[90s])") == 30_000
    assert spacing(f"{TOK} offset 15s") == 15_000
    assert spacing(f"rate({TOK}[5m])", steps + 30_000) == 30_000  # steps off the minute
    for reads_between in ("irate", "count_over_time", "max_over_time", "changes", "resets"):
        assert spacing(f"{reads_between}({TOK}[5m])") is None
    assert spacing(f"rate({TOK}[5m])", steps[:1]) is None  # an instant query


def test_a_repeated_subexpression_is_evaluated_once(
    engine: PromQLEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stacklens.promql.evaluator import Evaluator

    calls: list[str] = []
    range_call = Evaluator._range_call

    def spy(self: Evaluator, name: str, args: list[Any]) -> Any:
        calls.append(name)
        return range_call(self, name, args)

    monkeypatch.setattr(Evaluator, "_range_call", spy)
    rate = f"sum by (stack_name) (increase({TOK}[5m]))"
    single = instant(engine, rate)
    calls.clear()
    doubled = instant(engine, f"{rate} + {rate} or {rate} * 0")
    assert calls == ["increase"]
    assert doubled == {k: 2 * v for k, v in single.items()}
    calls.clear()
    instant(engine, f'{rate} + sum by (stack_name) (increase({TOK}{{direction="input"}}[5m]))')
    assert calls == ["increase", "increase"]  # not the same: both evaluated
