"""The DuckDB dialect: every method's SQL runs and means what it says."""

from __future__ import annotations

import duckdb
import pytest

from stacklens.store.dialect import DUCKDB, Params, check_identifier

D = DUCKDB


def scalar(sql: str, params: dict[str, object] | None = None) -> object:
    row = duckdb.connect().execute(sql, params or {}).fetchone()
    assert row is not None
    return row[0]


def test_time_conversions_and_buckets() -> None:
    ns = 1_768_046_523_456_789_000  # 2026-01-10T12:02:03.456789Z
    p = Params(D)
    ts = D.ts_from_ns(p("t", ns, "ts_ns"))
    assert scalar(f"SELECT {D.ts_to_ns(ts)}", p.values) == ns
    assert scalar(f"SELECT {D.bucket_ns(ts, '300000000000')}", p.values) == (1_768_046_400 * 10**9)
    assert scalar(f"SELECT {D.ts_to_ns(D.hour(ts))}", p.values) == 1_768_046_400 * 10**9
    assert scalar(f"SELECT {D.date_to_text(D.day(ts))}", p.values) == "2026-01-10"
    assert (
        scalar(f"SELECT {D.date_to_text(D.date_from_ns(p('t', ns, 'ts_ns')))}", p.values)
        == "2026-01-10"
    )


def test_aggregates_quantiles_lists_json() -> None:
    rows = "FROM range(1, 11) r(x)"
    assert scalar(f"SELECT {D.count_if('x > 7')} {rows}") == 3
    assert scalar(f"SELECT {D.sum_if('x', 'x > 7')} {rows}") == 27
    assert scalar(f"SELECT {D.sum_if('x', 'x > 70')} {rows}") == 0
    assert scalar(f"SELECT {D.agg_if('min', 'x', 'x > 3')} {rows}") == 4
    # interpolated: values 1..10, p95 at rank 8.55 → 9.55
    assert scalar(f"SELECT {D.quantile('x', 0.95)} {rows}") == pytest.approx(9.55)
    assert scalar(f"SELECT {D.distinct_list('x % 3')} {rows}") == [0, 1, 2]
    p = Params(D)
    member = D.in_list("'b'", p("l", ("a", "b"), "str_list"))
    assert scalar(f"SELECT {member}", p.values)
    assert scalar(f"SELECT {D.json_text('j', 'k')} FROM (SELECT '{{\"k\": 5}}'::JSON AS j)") == "5"


def test_upsert_folds_by_merge() -> None:
    con = duckdb.connect()
    con.execute(
        D.create_table(
            "t",
            [("k", "string"), ("n", "int"), ("lo", "int"), ("tags", "str_list"), ("u", "string")],
            ["k"],
        )
    )
    merges = {"n": "sum", "lo": "min", "tags": "union", "u": "coalesce"}
    for select in ("SELECT 'a', 1, 5, ['x'], NULL", "SELECT 'a', 2, 3, ['y', 'x'], 'z'"):
        con.execute(D.upsert("t", ["k", "n", "lo", "tags", "u"], ["k"], merges, select))  # type: ignore[arg-type]
    assert con.execute("SELECT * FROM t").fetchall() == [("a", 3, 3, ["x", "y"], "z")]


def test_identifiers_and_params_are_guarded() -> None:
    with pytest.raises(ValueError, match="identifier"):
        check_identifier("x; DROP TABLE events")
    with pytest.raises(ValueError, match="identifier"):
        D.json_text("attributes", "a'b")
    with pytest.raises(ValueError, match="quantile"):
        D.quantile("x", 1.5)
    p = Params(D)
    assert p("a", 1, "int") == "$a"
    with pytest.raises(ValueError, match="twice"):
        p("a", 2, "int")
