"""Pure builders of :mod:`stacklens.store.sql`, run on DuckDB over rows made here."""

from __future__ import annotations

import duckdb
import pytest

from stacklens.store.dialect import DUCKDB, Params
from stacklens.store.sql import stacks_since

S = 10**9


def test_stacks_since_keeps_each_stacks_rows_from_its_own_start() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (stack_name VARCHAR, ts TIMESTAMP)")
    rows = [(stack, second) for stack in ("a", "b", "c", "d") for second in (10, 20, 30)]
    con.executemany("INSERT INTO t VALUES (?, make_timestamp(? * 1000000))", rows)
    p = Params(DUCKDB)
    # a and c share a start: one term for both
    condition = stacks_since(DUCKDB, p, {"a": 20 * S, "b": 30 * S, "c": 20 * S}, "w")
    assert condition.count(" OR ") == 1
    found = con.execute(
        f"SELECT stack_name, epoch(ts)::INT FROM t WHERE {condition} ORDER BY ALL", p.values
    ).fetchall()
    assert found == [("a", 20), ("a", 30), ("b", 30), ("c", 20), ("c", 30)]  # d: none


def test_stacks_since_refuses_no_stack() -> None:
    with pytest.raises(ValueError, match="no stack"):
        stacks_since(DUCKDB, Params(DUCKDB), {}, "w")
