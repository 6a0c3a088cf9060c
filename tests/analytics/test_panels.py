"""The panel shapes of :mod:`stacklens.analytics.panels`, on hand-made rows."""

from __future__ import annotations

from stacklens.analytics.panels import Grouped, largest_first, tokens_out


def test_largest_first_breaks_ties_by_key_with_no_value_last() -> None:
    rows = [{"k": None, "n": 2}, {"k": "b", "n": 2}, {"k": "a", "n": 2}, {"k": "z", "n": 3}]
    assert [r["k"] for r in largest_first(rows, "k", "n")] == ["z", "a", "b", None]


def test_grouped_rows_go_back_to_their_panels() -> None:
    # One row per grouping set: a bucket, two models, the totals.
    rows = [
        {"bucket_ns": 7, "model": None, "g_bucket": 0, "g_model": 1, "x": 5},
        {"bucket_ns": 3, "model": None, "g_bucket": 0, "g_model": 1, "x": 1},
        {"bucket_ns": None, "model": "m", "g_bucket": 1, "g_model": 0, "x": 4},
        {"bucket_ns": None, "model": None, "g_bucket": 1, "g_model": 0, "x": 9},
        {"bucket_ns": None, "model": None, "g_bucket": 1, "g_model": 1, "x": 13},
    ]
    read = Grouped(rows, ("model",))
    assert [(r["bucket_ns"], r["x"]) for r in read.series(("x",))] == [(3, 1), (7, 5)]
    assert read.series(("x",))[0]["time"] == "1970-01-01T00:00:00.000000Z"
    assert read.top("model", ("x",), "x", 1) == [{"model": None, "x": 9}]
    assert read.top("model", ("x",), "x", 5) == [{"model": None, "x": 9}, {"model": "m", "x": 4}]
    assert read.totals(("x",)) == {"x": 13}
    assert Grouped([], ("model",)).totals(("x",)) == {}


def test_the_token_table_drops_empty_rows_and_unpriced_cost() -> None:
    rows = [
        {"m": "a", "tokens_in": 1, "tokens_out": 1, "llm_calls": 1, "unpriced": 1, "cost_usd": 0},
        {"m": "b", "tokens_in": 5, "tokens_out": 0, "llm_calls": 2, "unpriced": 1, "cost_usd": 2},
        {"m": "c", "tokens_in": 0, "tokens_out": 0, "llm_calls": 0, "unpriced": 0, "cost_usd": 0},
    ]
    out = tokens_out(rows, "m")
    assert [(r["m"], r["tokens_total"], r["cost_usd"]) for r in out] == [
        ("b", 5, 2),
        ("a", 2, None),
    ]
