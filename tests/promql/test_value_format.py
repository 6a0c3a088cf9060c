"""The printed sample values: the bulk path (msgspec's float encoder) agrees with
:func:`format_value`, value by value, and a range answer's JSON with its pairs."""

from __future__ import annotations

import json

import numpy as np

from stacklens.promql.engine import _points, _points_json, format_value, format_values

SPECIAL = [0.0, -0.0, 1.0, -2.0, 2.5, 1e-4, 9.99e-5, 1e-5, 1e15, 1e16, 1.5e16, 1e300, 5e-324,
           float("nan"), float("inf"), float("-inf"), 123456789.125, 0.1 + 0.2]  # fmt: skip


def test_bulk_printing_matches_value_by_value() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            np.array(SPECIAL),
            rng.random(5000) * 10.0 ** rng.integers(-8, 20, 5000),
            rng.integers(-(10**6), 10**6, 2000).astype(np.float64),
        ]
    )
    assert format_values(values) == [format_value(float(v)) for v in values]
    assert format_values(np.array([])) == []


def test_special_values_print_as_prometheus_does() -> None:
    printed = format_values(np.array([2.0, -0.0, float("nan"), float("inf"), 1e16, 1e-5]))
    assert printed == ["2", "-0", "NaN", "+Inf", "10000000000000000", "0.00001"]


def test_range_points_json_is_the_pairs() -> None:
    ts = np.array([1_000, 61_000, 121_500], dtype=np.int64)
    values = np.array([1.0, float("nan"), 0.25])
    assert json.loads(bytes(_points_json(ts, values))) == _points(ts, values)
    assert json.loads(bytes(_points_json(ts, values))) == [[1, "1"], [61, "NaN"], [121.5, "0.25"]]
    assert json.loads(bytes(_points_json(ts[:1], values[:1]))) == [[1, "1"]]
    assert json.loads(bytes(_points_json(ts[:0], values[:0]))) == []
