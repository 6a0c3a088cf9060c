"""Every dialect's SQL runs on its own engine and means what it says: the same
assertions on DuckDB and on ClickHouse (through chDB)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from stacklens.store.dialect import DUCKDB, Params, check_identifier
from stacklens.testing.backends import chdb_path
from stacklens.testing.sql_engines import ChdbEngine, DuckDBEngine, SqlEngine, rows_source

TEN = rows_source(["x"], [[str(i)] for i in range(1, 11)])


@pytest.fixture(params=["duckdb", "clickhouse"])
def engine(request: pytest.FixtureRequest) -> Iterator[SqlEngine]:
    made: SqlEngine = DuckDBEngine() if request.param == "duckdb" else ChdbEngine(chdb_path())
    yield made
    made.close()


def scalar(engine: SqlEngine, sql: str, params: dict[str, Any] | None = None) -> Any:
    [row] = engine.rows(sql, params)
    return row[0]


def test_time_conversions_and_buckets(engine: SqlEngine) -> None:
    D = engine.dialect
    ns = 1_768_046_523_456_789_000  # 2026-01-10T12:02:03.456789Z
    p = Params(D)
    ts = D.ts_from_ns(p("t", ns, "ts_ns"))
    assert scalar(engine, f"SELECT {D.ts_to_ns(ts)}", p.values) == ns
    bucket = f"SELECT {D.bucket_ns(ts, '300000000000')}"
    assert scalar(engine, bucket, p.values) == 1_768_046_400 * 10**9
    assert scalar(engine, f"SELECT {D.ts_to_ns(D.hour(ts))}", p.values) == 1_768_046_400 * 10**9
    assert scalar(engine, f"SELECT {D.date_to_text(D.day(ts))}", p.values) == "2026-01-10"
    assert (
        scalar(engine, f"SELECT {D.date_to_text(D.date_from_ns(p('t', ns, 'ts_ns')))}", p.values)
        == "2026-01-10"
    )


def test_aggregates_quantiles_lists_json(engine: SqlEngine) -> None:
    D = engine.dialect
    assert scalar(engine, f"SELECT {D.count_if('x > 7')} FROM {TEN}") == 3
    assert scalar(engine, f"SELECT {D.sum_if('x', 'x > 7')} FROM {TEN}") == 27
    assert scalar(engine, f"SELECT {D.sum_if('x', 'x > 70')} FROM {TEN}") == 0
    assert scalar(engine, f"SELECT {D.agg_if('min', 'x', 'x > 3')} FROM {TEN}") == 4
    assert scalar(engine, f"SELECT {D.agg_if('max', 'x', 'x > 70')} FROM {TEN}") is None
    assert scalar(engine, f"SELECT {D.agg_if('count', 'x', 'x > 8')} FROM {TEN}") == 2
    # interpolated: values 1..10, p95 at rank 8.55 → 9.55
    assert scalar(engine, f"SELECT {D.quantile('x', 0.95)} FROM {TEN}") == pytest.approx(9.55)
    assert scalar(engine, f"SELECT {D.quantile('x', 0.5)} FROM {TEN}") == pytest.approx(5.5)
    assert scalar(engine, f"SELECT {D.distinct_list('x % 3')} FROM {TEN}") == [0, 1, 2]
    p = Params(D)
    member = D.in_list("'b'", p("l", ("a", "b"), "str_list"))
    assert scalar(engine, f"SELECT {member}", p.values)
    literal = engine.json_literal('{"k": 5, "s": "x"}')
    doc = f"(SELECT {literal} AS j) AS doc"
    assert scalar(engine, f"SELECT {D.json_text('j', 'k')} FROM {doc}") == "5"
    assert scalar(engine, f"SELECT {D.json_text('j', 's')} FROM {doc}") == "x"
    assert scalar(engine, f"SELECT {D.json_text('j', 'absent')} FROM {doc}") is None


def test_upsert_folds_by_merge(engine: SqlEngine) -> None:
    D = engine.dialect
    columns = [("k", "string"), ("n", "int"), ("lo", "int"), ("tags", "str_list"), ("u", "string")]
    merges: dict[str, Any] = {"n": "sum", "lo": "min", "tags": "union", "u": "coalesce"}
    for statement in D.create_rollup("t", columns, ["k"], merges):
        engine.execute(statement)
    for select in (
        "SELECT 'a', 1, 5, ['x'], NULL",
        "SELECT 'a', 2, 3, ['y', 'x'], 'z'",
        "SELECT 'a', 4, 7, ['x'], 'w'",  # coalesce: the first non-null stays
    ):
        engine.execute(D.upsert("t", ["k", "n", "lo", "tags", "u"], ["k"], merges, select))
    assert engine.rows("SELECT k, n, lo, tags, u FROM t") == [("a", 7, 3, ["x", "y"], "z")]


def test_identifiers_and_params_are_guarded(engine: SqlEngine) -> None:
    D = engine.dialect
    with pytest.raises(ValueError, match="identifier"):
        check_identifier("x; DROP TABLE events")
    with pytest.raises(ValueError, match="identifier"):
        D.json_text("attributes", "a'b")
    with pytest.raises(ValueError, match="quantile"):
        D.quantile("x", 1.5)
    p = Params(D)
    assert p("a", 1, "int") == ("$a" if D is DUCKDB else "{a:Int64}")
    with pytest.raises(ValueError, match="twice"):
        p("a", 2, "int")


def test_arg_max_any_value_regex_casts_epoch_ms(engine: SqlEngine) -> None:
    D = engine.dialect
    rows = "FROM " + rows_source(["ts", "x"], [["1", "30.0"], ["3", "10.0"], ["2", "20.0"]])
    assert scalar(engine, f"SELECT {D.arg_max('x', 'ts')} {rows}") == 10.0
    assert scalar(engine, f"SELECT {D.arg_max('x', 'ts', 'ts < 3')} {rows}") == 20.0
    nulls = rows_source(["x"], [["NULL"], ["4.0"]])
    assert scalar(engine, f"SELECT {D.any_value('x')} FROM {nulls}") == 4.0
    p = Params(D)
    pattern = p("re", "al.*")
    assert scalar(engine, f"SELECT {D.regex_full_match(repr('alpha'), pattern)}", p.values)
    assert not scalar(engine, f"SELECT {D.regex_full_match(repr('xalpha'), pattern)}", p.values)
    assert scalar(engine, f"SELECT {D.cast('1 = 1', 'int')}") == 1
    assert scalar(engine, f"SELECT {D.cast('7', 'string')}") == "7"
    assert scalar(engine, f"SELECT {D.cast('3', 'float')} / 2") == 1.5
    assert scalar(engine, f"SELECT {D.cast('NULL', 'string')}") is None
    ns = 1_768_046_523_456_789_000
    p = Params(D)
    # to the nearest millisecond (DuckDB's epoch_ms rounds): .456789 s → 457 ms
    assert scalar(engine, f"SELECT {D.ts_to_ms(D.ts_from_ns(p('t', ns, 'ts_ns')))}", p.values) == (
        1_768_046_523_457
    )


def test_json_key_parameter_set_and_remove(engine: SqlEngine) -> None:
    D = engine.dialect
    literal = engine.json_literal('{"gpu.id": "0", "cost_source": "x", "k": 1}')
    doc = f"(SELECT {literal} AS j) AS doc"
    p = Params(D)
    key = p("k0", D.json_key("gpu.id"))
    assert "gpu.id" not in D.json_text_at("j", key)
    assert scalar(engine, f"SELECT {D.json_text_at('j', key)} FROM {doc}", p.values) == "0"
    if D is DUCKDB:
        with pytest.raises(ValueError, match="JSON key"):
            D.json_key('a"b')
    removed = scalar(engine, f"SELECT {D.json_remove('j', 'cost_source')} FROM {doc}")
    assert json.loads(str(removed)) == {"gpu.id": "0", "k": 1}
    replaced = scalar(
        engine, f"SELECT {D.json_set_text('j', 'cost_source', repr('override'))} FROM {doc}"
    )
    assert json.loads(str(replaced)) == {"gpu.id": "0", "cost_source": "override", "k": 1}


def test_replace_merge_and_keyless_tables(engine: SqlEngine) -> None:
    D = engine.dialect
    for statement in D.create_rollup("c", [("k", "string"), ("v", "int")], ["k"], {"v": "replace"}):
        engine.execute(statement)
    for select in ("SELECT 'a', 1", "SELECT 'a', 7"):
        engine.execute(D.upsert("c", ["k", "v"], ["k"], {"v": "replace"}, select))
    assert engine.rows("SELECT k, v FROM c") == [("a", 7)]
    engine.execute(D.create_table("log", [("k", "string"), ("j", "json"), ("f", "float_list")], ()))
    for _ in range(2):  # no key: both rows stay
        engine.execute("INSERT INTO log SELECT 'a', '{}', [1.0]")
    assert engine.rows("SELECT count(*) FROM log") == [(2,)]


def test_drop_partition_drops_one_utc_day(engine: SqlEngine) -> None:
    D = engine.dialect
    engine.execute(engine.day_partitioned_table("e"))
    stamps = ["2026-01-13 23:59:59.999999", "2026-01-14 00:00:00", "2026-01-14 23:59:59.999999"]
    for n, stamp in enumerate([*stamps, "2026-01-15 00:00:00"], 1):
        engine.execute(f"INSERT INTO e SELECT {D.cast(repr(stamp), 'timestamp')}, {n}")
    p = Params(D)
    for statement in D.drop_partition(p, "e", "ts", dt.date(2026, 1, 14)):
        engine.execute(statement, p.values)
    assert engine.rows("SELECT n FROM e ORDER BY n") == [(1,), (4,)]
    with pytest.raises(ValueError, match="identifier"):
        D.drop_partition(Params(D), "e; DROP TABLE e", "ts", dt.date(2026, 1, 14))


def test_rollup_delete_and_update_where(engine: SqlEngine) -> None:
    D = engine.dialect
    for statement in D.create_rollup("r", [("k", "string"), ("v", "int")], ["k"], {"v": "sum"}):
        engine.execute(statement)
    for select in ("SELECT 'a', 1", "SELECT 'b', 2", "SELECT 'a', 3"):
        engine.execute(D.upsert("r", ["k", "v"], ["k"], {"v": "sum"}, select))
    p = Params(D)
    engine.execute(D.rollup_delete("r", ["k"], f"v > {p('v', 3, 'int')}"), p.values)
    assert engine.rows("SELECT k, v FROM r") == [("b", 2)]
    engine.execute(D.create_table("adj", [("u", "string"), ("n", "int")], ()))
    engine.execute("INSERT INTO adj SELECT 'x', 1")
    engine.execute("INSERT INTO adj SELECT 'y', 2")
    p = Params(D)
    engine.execute(D.update_where("adj", {"u": p("to", "z")}, f"u = {p('from', 'x')}"), p.values)
    assert engine.rows("SELECT u, n FROM adj ORDER BY n") == [("z", 1), ("y", 2)]


def test_rollup_reassign_moves_and_folds(engine: SqlEngine) -> None:
    D = engine.dialect
    columns = [("d", "int"), ("u", "string"), ("n", "int")]
    merges: dict[str, Any] = {"n": "sum"}
    for statement in D.create_rollup("b", columns, ["d", "u"], merges):
        engine.execute(statement)
    for select in (
        "SELECT 1, 'a', 2",
        "SELECT 1, 'x', 3",
        "SELECT 1, 'gone', 5",
        "SELECT 2, 'x', 7",
    ):
        engine.execute(D.upsert("b", ["d", "u", "n"], ["d", "u"], merges, select))
    p = Params(D)
    where = D.in_list("u", p("users", ("x",), "str_list"))
    marker = p("to", "gone")
    for statement in D.rollup_reassign(
        "b", ["d", "u", "n"], ["d", "u"], merges, "u", marker, where
    ):
        engine.execute(statement, {k: v for k, v in p.values.items() if k in statement})
    # x's rows moved under 'gone', folded into the row already there (day 1: 5 + 3)
    assert engine.rows("SELECT d, u, n FROM b ORDER BY d, u") == [
        (1, "a", 2),
        (1, "gone", 8),
        (2, "gone", 7),
    ]


def test_update_from_joins_the_source() -> None:
    # DuckDB's UPDATE ... FROM; ClickHouse's (a re-insert of raw rows with a newer
    # version) runs in the conformance suite's backfill test.
    D = DUCKDB
    con = DuckDBEngine()
    con.execute("CREATE TABLE t (k VARCHAR, v DOUBLE)")
    con.execute("CREATE TABLE s (k VARCHAR, nv DOUBLE)")
    con.execute("INSERT INTO t VALUES ('a', 1), ('b', 2); INSERT INTO s VALUES ('b', 5)")
    con.execute(D.update_from("t", {"v": "x.nv * 2"}, "s", "x", "t.k = x.k"))
    assert con.rows("SELECT * FROM t ORDER BY k") == [("a", 1.0), ("b", 10.0)]
    with pytest.raises(ValueError, match="identifier"):
        D.update_from("t", {"v; DROP TABLE t": "1"}, "s", "x", "true")
    con.close()
