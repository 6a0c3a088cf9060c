"""The DuckDB dialect: every method's SQL runs and means what it says."""

from __future__ import annotations

import datetime as dt
import json

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


def test_arg_max_any_value_regex_casts_epoch_ms() -> None:
    rows = "FROM (VALUES (1, 30.0), (3, 10.0), (2, 20.0)) v(ts, x)"
    assert scalar(f"SELECT {D.arg_max('x', 'ts')} {rows}") == 10.0
    assert scalar(f"SELECT {D.arg_max('x', 'ts', 'ts < 3')} {rows}") == 20.0
    assert scalar(f"SELECT {D.any_value('x')} FROM (VALUES (NULL), (4.0)) v(x)") == 4.0
    p = Params(D)
    pattern = p("re", "al.*")
    assert scalar(f"SELECT {D.regex_full_match(repr('alpha'), pattern)}", p.values) is True
    assert scalar(f"SELECT {D.regex_full_match(repr('xalpha'), pattern)}", p.values) is False
    assert scalar(f"SELECT {D.cast('1 = 1', 'int')}") == 1
    assert scalar(f"SELECT {D.cast('7', 'string')}") == "7"
    assert scalar(f"SELECT {D.cast('3', 'float')} / 2") == 1.5
    ns = 1_768_046_523_456_789_000
    p = Params(D)
    # to the nearest millisecond (DuckDB's epoch_ms rounds): .456789 s → 457 ms
    assert scalar(f"SELECT {D.ts_to_ms(D.ts_from_ns(p('t', ns, 'ts_ns')))}", p.values) == (
        1_768_046_523_457
    )


def test_contains_and_regex_search_are_unanchored() -> None:
    for text, needle, regex, expected in (
        ("an ERROR here", "ERR", "E.R", True),
        ("an error here", "ERR", "E.R", False),
    ):
        p = Params(D)
        found = scalar(f"SELECT {D.contains(repr(text), p('needle', needle))}", p.values)
        assert found is expected
        p = Params(D)
        matched = scalar(f"SELECT {D.regex_search(repr(text), p('re', regex))}", p.values)
        assert matched is expected


def test_json_key_parameter_set_and_remove() -> None:
    doc = '(SELECT \'{"gpu.id": "0", "cost_source": "x", "k": 1}\'::JSON AS j)'
    p = Params(D)
    key = p("k0", D.json_key("gpu.id"))
    assert "gpu.id" not in D.json_text_at("j", key)
    assert scalar(f"SELECT {D.json_text_at('j', key)} FROM {doc}", p.values) == "0"
    with pytest.raises(ValueError, match="JSON key"):
        D.json_key('a"b')
    removed = scalar(f"SELECT {D.json_remove('j', 'cost_source')} FROM {doc}")
    assert json.loads(str(removed)) == {"gpu.id": "0", "k": 1}
    replaced = scalar(f"SELECT {D.json_set_text('j', 'cost_source', repr('override'))} FROM {doc}")
    assert json.loads(str(replaced)) == {"gpu.id": "0", "cost_source": "override", "k": 1}


def test_replace_merge_and_keyless_tables() -> None:
    con = duckdb.connect()
    con.execute(D.create_table("c", [("k", "string"), ("v", "int")], ["k"]))
    for select in ("SELECT 'a', 1", "SELECT 'a', 7"):
        con.execute(D.upsert("c", ["k", "v"], ["k"], {"v": "replace"}, select))
    assert con.execute("SELECT * FROM c").fetchall() == [("a", 7)]
    con.execute(D.create_table("log", [("k", "string"), ("j", "json"), ("f", "float_list")], ()))
    con.execute("INSERT INTO log VALUES ('a', '{}', [1.0]), ('a', '{}', [2.0])")  # no key
    types = con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'log'")
    assert [t for (t,) in types.fetchall()] == ["VARCHAR", "JSON", "DOUBLE[]"]


def test_drop_partition_drops_one_utc_day() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE e (ts TIMESTAMP, n INT)")
    con.execute(
        "INSERT INTO e VALUES ('2026-01-13 23:59:59.999999', 1), ('2026-01-14 00:00:00', 2), "
        "('2026-01-14 23:59:59.999999', 3), ('2026-01-15 00:00:00', 4)"
    )
    p = Params(D)
    for statement in D.drop_partition(p, "e", "ts", dt.date(2026, 1, 14)):
        con.execute(statement, p.values)
    assert con.execute("SELECT n FROM e ORDER BY n").fetchall() == [(1,), (4,)]
    with pytest.raises(ValueError, match="identifier"):
        D.drop_partition(Params(D), "e; DROP TABLE e", "ts", dt.date(2026, 1, 14))


def test_update_from_joins_the_source() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR, v DOUBLE)")
    con.execute("CREATE TABLE s (k VARCHAR, nv DOUBLE)")
    con.execute("INSERT INTO t VALUES ('a', 1), ('b', 2); INSERT INTO s VALUES ('b', 5)")
    con.execute(D.update_from("t", {"v": "x.nv * 2"}, "s", "x", "t.k = x.k"))
    assert con.execute("SELECT * FROM t ORDER BY k").fetchall() == [("a", 1.0), ("b", 10.0)]
    with pytest.raises(ValueError, match="identifier"):
        D.update_from("t", {"v; DROP TABLE t": "1"}, "s", "x", "true")
