"""A marker dialect: renders every :class:`~stacklens.store.dialect.Dialect` method
as a visible tag (``«ts_from_ns(...)»``), so a test can build every statement over it
and find any SQL that bypassed the dialect (a DuckDB-only function written inline
would survive untagged)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Final

from stacklens.store.dialect import Dialect, Kind, Merge, Params, check_identifier

__all__ = ["DUCKDB_ONLY", "MARKER", "MarkerDialect"]

#: Spellings only DuckDB understands (functions, casts, placeholders, DDL types).
DUCKDB_ONLY: Final = (
    "quantile_cont",
    "json_extract",
    "json_merge_patch",
    "json_object",
    "list_contains",
    "list_sort",
    "list_distinct",
    "regexp_full_match",
    "regexp_matches",
    "make_timestamp",
    "epoch_ns",
    "epoch_ms",
    "arg_max",
    "any_value",
    "date_trunc",
    "strftime",
    "FILTER (WHERE",
    "ON CONFLICT",
    "INSERT OR REPLACE",
    "::",
    "$",
    "VARCHAR",
    "BIGINT",
    "DOUBLE",
    "TIMESTAMP",
    "read_ndjson",
)


def _tag(name: str, *args: object) -> str:
    return f"«{name}({', '.join(str(a) for a in args)})»"


class MarkerDialect:
    name = "marker"

    def placeholder(self, name: str, kind: Kind) -> str:
        return _tag("param", check_identifier(name), kind)

    def ts_from_ns(self, expr: str) -> str:
        return _tag("ts_from_ns", expr)

    def ts_to_ns(self, expr: str) -> str:
        return _tag("ts_to_ns", expr)

    def bucket_ns(self, ts: str, step_ns: str) -> str:
        return _tag("bucket_ns", ts, step_ns)

    def hour(self, ts: str) -> str:
        return _tag("hour", ts)

    def day(self, ts: str) -> str:
        return _tag("day", ts)

    def date_from_ns(self, expr: str) -> str:
        return _tag("date_from_ns", expr)

    def date_to_text(self, expr: str) -> str:
        return _tag("date_to_text", expr)

    def count_if(self, cond: str) -> str:
        return _tag("count_if", cond)

    def sum_if(self, expr: str, cond: str) -> str:
        return _tag("sum_if", expr, cond)

    def agg_if(self, func: str, expr: str, cond: str) -> str:
        return _tag("agg_if", func, expr, cond)

    def arg_max(self, expr: str, by: str, cond: str | None = None) -> str:
        return _tag("value_at_max", expr, by, cond)

    def any_value(self, expr: str) -> str:
        return _tag("any", expr)

    def newest(self, expr: str, n: int) -> str:
        return _tag("newest", expr, int(n))

    def quantile(self, expr: str, q: float) -> str:
        return _tag("quantile", expr, q)

    def json_text(self, column: str, key: str) -> str:
        return _tag("json_text", column, key)

    def json_key(self, key: str) -> str:
        return key

    def json_text_at(self, column: str, placeholder: str) -> str:
        return _tag("json_text_at", column, placeholder)

    def json_set_text(self, column: str, key: str, expr: str) -> str:
        return _tag("json_set_text", column, key, expr)

    def json_remove(self, column: str, key: str) -> str:
        return _tag("json_remove", column, key)

    def regex_full_match(self, expr: str, pattern: str) -> str:
        return _tag("regex_full_match", expr, pattern)

    def contains(self, expr: str, needle: str) -> str:
        return _tag("contains", expr, needle)

    def regex_search(self, expr: str, pattern: str) -> str:
        return _tag("regex_search", expr, pattern)

    def cast(self, expr: str, kind: str) -> str:
        return _tag("cast", expr, kind)

    def ts_to_ms(self, expr: str) -> str:
        return _tag("ts_to_ms", expr)

    def in_list(self, expr: str, placeholder: str) -> str:
        return _tag("in_list", expr, placeholder)

    def hash64(self, exprs: Sequence[str]) -> str:
        return _tag("hash64", *exprs)

    def distinct_list(self, expr: str) -> str:
        return _tag("distinct_list", expr)

    def ordered_list(self, expr: str, by: str) -> str:
        return _tag("ordered_list", expr, by)

    def column_type(self, kind: str) -> str:
        return _tag("type", kind)

    def create_table(
        self, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> str:
        return _tag("create_table", table, list(columns), list(key))

    def create_rollup(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        key: Sequence[str],
        merges: Mapping[str, Merge],
    ) -> list[str]:
        return [_tag("create_rollup", table, list(columns), list(key), dict(merges))]

    def create_sums(
        self, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> list[str]:
        return [_tag("create_sums", table, list(columns), list(key))]

    def compact_sums(
        self, table: str, key: Sequence[str], values: Sequence[str], where: str
    ) -> list[str]:
        return [_tag("compact_sums", table, list(key), list(values), where)]

    def summing_read(self, statement: str) -> str:
        return _tag("summing_read", statement)

    def temp_table_as(self, table: str, select: str) -> list[str]:
        return [_tag("temp_table_as", table, select)]

    def rollup_delete(self, table: str, key: Sequence[str], where: str) -> str:
        return _tag("rollup_delete", table, list(key), where)

    def rollup_reassign(
        self,
        table: str,
        names: Sequence[str],
        key: Sequence[str],
        merges: Mapping[str, Merge],
        column: str,
        value: str,
        where: str,
    ) -> list[str]:
        return [_tag("rollup_reassign", table, list(names), list(key), column, value, where)]

    def update_where(self, table: str, assignments: Mapping[str, str], where: str) -> str:
        return _tag("update_where", table, dict(assignments), where)

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        merges: Mapping[str, Merge],
        select: str,
    ) -> str:
        return _tag("upsert", table, list(columns), list(key), dict(merges), select)

    def update_from(
        self, table: str, assignments: Mapping[str, str], source: str, alias: str, on: str
    ) -> str:
        return _tag("update_from", table, dict(assignments), source, alias, on)

    def rollup_sums_source(self, table: str) -> str:
        return _tag("rollup_sums_source", table)

    def rollup_keys_with(self, table: str, columns: Sequence[str], cond: str) -> str:
        return _tag("rollup_keys_with", table, list(columns), cond)

    def rollup_disagreeing(
        self, table: str, columns: Sequence[str], conds: Sequence[str], where: str = "true"
    ) -> str | None:
        return _tag("rollup_disagreeing", table, list(columns), list(conds), where)

    def rollup_single(self, table: str, key: Sequence[str]) -> str:
        return _tag("rollup_single", table, list(key))

    def raw_source(self, table: str, days: str) -> str:
        return _tag("raw_source", table, days)

    def drop_partition(self, p: Params, table: str, column: str, day: dt.date) -> list[str]:
        return [_tag("drop_partition", table, column, day.isoformat())]


MARKER: Final[Dialect] = MarkerDialect()
