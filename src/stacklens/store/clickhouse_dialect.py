"""The ClickHouse spelling of the :class:`~stacklens.store.dialect.Dialect` vocabulary.

Parameters are ClickHouse's typed server-side ``{name:Type}`` placeholders (values
travel apart from the SQL text, as with DuckDB's ``$name``). Timestamps are
``DateTime64(6, 'UTC')`` (microseconds, as DuckDB's ``TIMESTAMP``), so the same
epoch-nanosecond figures come back from both.

ClickHouse has no ``ON CONFLICT`` upsert. A rollup is stored as the append-only
table ``<name>__parts`` of contributions (one row per load and key) under a view
``<name>`` that groups by the key and folds each value column by its merge; an upsert
is an ``INSERT`` into the parts table. Reads through the view are exact whether or
not ClickHouse has merged any part — nothing trusts a background merge.
Folding every key is the expensive part of a read (a ``GROUP BY`` over all of them),
so reads avoid it where the figure allows: a read that only sums sums the parts table
(:meth:`ClickHouseDialect.rollup_sums_source`), and one that needs whole rows folds
only the keys that can matter (:meth:`~ClickHouseDialect.rollup_keys_with`,
:meth:`~ClickHouseDialect.rollup_disagreeing`, :meth:`~ClickHouseDialect.rollup_single`).

An ``UPDATE ... FROM`` (a cost backfill) is rendered as the re-insert of the changed
rows with a newer ``_version``: the raw tables are ``ReplacingMergeTree(_version)``
read with ``FINAL``, so the newest version of each row is the one every read sees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Final

from stacklens.store.columns import TABLES
from stacklens.store.dialect import Kind, Merge, Params, check_identifier

__all__ = ["CLICKHOUSE", "PARTS_SUFFIX", "VERSION_COLUMN", "ClickHouseDialect", "parts_table"]

#: The table of a rollup's contributions (the rollup's name is a view over it).
PARTS_SUFFIX: Final = "__parts"
#: The version column of the raw tables and of the rollup parts (insertion time, ns).
VERSION_COLUMN: Final = "_version"

_PARAM_TYPES: Final[Mapping[str, str]] = {
    "int": "Int64",
    "float": "Float64",
    "str": "String",
    "bool": "Bool",
    "ts_ns": "Int64",
    "str_list": "Array(String)",
    "date": "Date",
}

_TYPES: Final[Mapping[str, str]] = {
    "string": "String",
    "int": "Int64",
    "float": "Float64",
    "bool": "Bool",
    "timestamp": "DateTime64(6, 'UTC')",
    "date": "Date",
    "json": "String",
    "str_list": "Array(String)",
    "float_list": "Array(Float64)",
    "int_list": "Array(Int64)",
}

#: How the view over a rollup's parts folds every contribution of one key.
_FOLDS: Final[Mapping[str, str]] = {
    "sum": "sum({c})",
    "min": "min({c})",
    "max": "max({c})",
    "union": "arraySort(groupUniqArrayArray({c}))",
    # The first non-null contribution wins (DuckDB keeps the stored value).
    "coalesce": "argMinIf({c}, {v}, {c} IS NOT NULL)",
    "replace": "argMax({c}, {v})",
}

_VERSION_DEFAULT: Final = f"{VERSION_COLUMN} UInt64 DEFAULT toUnixTimestamp64Nano(now64(9))"
#: Keeps the block ids of recent inserts on non-replicated tables, so a retried insert
#: with the same ``insert_deduplication_token`` is dropped (replicated tables keep
#: them in Keeper by default).
DEDUP_SETTINGS: Final = "non_replicated_deduplication_window = 10000"


def parts_table(table: str) -> str:
    return f"{check_identifier(table)}{PARTS_SUFFIX}"


def _lists(kind: str) -> bool:
    return kind.endswith("_list")


class ClickHouseDialect:
    name = "clickhouse"

    def placeholder(self, name: str, kind: Kind) -> str:
        return f"{{{check_identifier(name)}:{_PARAM_TYPES[kind]}}}"

    def ts_from_ns(self, expr: str) -> str:
        # Microseconds, as DuckDB's make_timestamp(ns // 1000).
        return f"fromUnixTimestamp64Micro(intDiv({expr}, 1000), 'UTC')"

    def ts_to_ns(self, expr: str) -> str:
        return f"toUnixTimestamp64Nano(toDateTime64({expr}, 6, 'UTC'))"

    def bucket_ns(self, ts: str, step_ns: str) -> str:
        ns = self.ts_to_ns(ts)
        return f"(intDiv({ns}, ({step_ns})) * ({step_ns}))"

    def hour(self, ts: str) -> str:
        return f"toDateTime64(toStartOfHour({ts}), 6, 'UTC')"

    def day(self, ts: str) -> str:
        return f"toDate({ts}, 'UTC')"

    def date_from_ns(self, expr: str) -> str:
        return f"toDate({self.ts_from_ns(expr)}, 'UTC')"

    def date_to_text(self, expr: str) -> str:
        return f"formatDateTime({expr}, '%Y-%m-%d')"

    def count_if(self, cond: str) -> str:
        return f"countIf({cond})"

    def sum_if(self, expr: str, cond: str) -> str:
        return f"coalesce(sumIf({expr}, {cond}), 0)"

    def agg_if(self, func: str, expr: str, cond: str) -> str:
        if func not in ("sum", "min", "max", "count", "avg"):
            raise ValueError(f"unsupported aggregate {func!r}")
        if func == "count":
            return f"countIf(({expr}) IS NOT NULL AND ({cond}))"
        # -OrNull: no row matching is NULL, as SQL's FILTER (not the type's default).
        return f"{func}IfOrNull({expr}, {cond})"

    def arg_max(self, expr: str, by: str, cond: str | None = None) -> str:
        if cond is None:
            return f"argMaxOrNull({expr}, {by})"
        return f"argMaxIfOrNull({expr}, {by}, {cond})"

    def any_value(self, expr: str) -> str:
        return f"any({expr})"

    def newest(self, expr: str, n: int) -> str:
        # The n smallest of the negated values (kept sorted while aggregating).
        return f"arrayMap(v -> -v, groupArraySorted({int(n)})(-({expr})))"

    def quantile(self, expr: str, q: float) -> str:
        if not 0.0 <= q <= 1.0:
            raise ValueError("a quantile is between 0 and 1")
        # The inclusive (R-7, linear interpolation) method: DuckDB's quantile_cont.
        return f"quantileExactInclusiveOrNull({float(q)!r})({expr})"

    def _json_value(self, column: str, key: str) -> str:
        # A string member's text; any other member's JSON text (5, true, {...}), as
        # DuckDB's json_extract_string; NULL when absent.
        return (
            f"if(JSONHas({column}, {key}), if(JSONType({column}, {key}) = 'String', "
            f"JSONExtractString({column}, {key}), JSONExtractRaw({column}, {key})), NULL)"
        )

    def json_text(self, column: str, key: str) -> str:
        return self._json_value(check_identifier(column), f"'{check_identifier(key)}'")

    def json_key(self, key: str) -> str:
        return key

    def json_text_at(self, column: str, placeholder: str) -> str:
        return self._json_value(check_identifier(column), placeholder)

    def _json_without(self, column: str, key: str) -> str:
        return (
            f"arrayFilter(kv -> kv.1 != '{check_identifier(key)}', "
            f"JSONExtractKeysAndValuesRaw(coalesce({column}, '{{}}')))"
        )

    @staticmethod
    def _json_object(members: str) -> str:
        return (
            "concat('{', arrayStringConcat(arrayMap(kv -> concat(toJSONString(kv.1), ':', "
            f"kv.2), {members}), ','), '}}')"
        )

    def json_set_text(self, column: str, key: str, expr: str) -> str:
        member = f"('{check_identifier(key)}', toJSONString(toString({expr})))"
        return self._json_object(f"arrayPushBack({self._json_without(column, key)}, {member})")

    def json_remove(self, column: str, key: str) -> str:
        return self._json_object(self._json_without(column, key))

    def regex_full_match(self, expr: str, pattern: str) -> str:
        return f"match({expr}, concat('^(?:', {pattern}, ')$'))"

    def contains(self, expr: str, needle: str) -> str:
        return f"(position({expr}, {needle}) > 0)"

    def regex_search(self, expr: str, pattern: str) -> str:
        return f"match({expr}, {pattern})"

    def cast(self, expr: str, kind: str) -> str:
        base = self.column_type(kind)
        return f"CAST({expr} AS {base if _lists(kind) else f'Nullable({base})'})"

    def ts_to_ms(self, expr: str) -> str:
        # To the nearest millisecond, as DuckDB's epoch_ms.
        return f"intDiv(toUnixTimestamp64Micro(toDateTime64({expr}, 6, 'UTC')) + 500, 1000)"

    def in_list(self, expr: str, placeholder: str) -> str:
        return f"has({placeholder}, {expr})"

    def hash64(self, exprs: Sequence[str]) -> str:
        return f"cityHash64({', '.join(exprs)})"

    def distinct_list(self, expr: str) -> str:
        return f"arraySort(groupUniqArray({expr}))"

    def ordered_list(self, expr: str, by: str) -> str:
        # one array of (by, expr) pairs, sorted by its first element: groupArray alone
        # promises no order
        return f"arrayMap(p -> p.2, arraySort(groupArray(({by}, {expr}))))"

    def column_type(self, kind: str) -> str:
        return _TYPES[kind]

    def _column(self, name: str, kind: str, keyset: set[str]) -> str:
        base = self.column_type(kind)
        nullable = name not in keyset and not _lists(kind)
        return f"{check_identifier(name)} {f'Nullable({base})' if nullable else base}"

    def create_table(
        self, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> str:
        """A keyed table keeps the newest row of each key (``ReplacingMergeTree``,
        read with ``FINAL``); a keyless one is append-only."""
        keyset = set(key)
        cols = ", ".join(self._column(n, k, keyset) for n, k in columns)
        name = check_identifier(table)
        if not key:
            return (
                f"CREATE TABLE IF NOT EXISTS {name} ({cols}) ENGINE = MergeTree "
                f"ORDER BY tuple() SETTINGS {DEDUP_SETTINGS}"
            )
        keys = ", ".join(check_identifier(k) for k in key)
        return (
            f"CREATE TABLE IF NOT EXISTS {name} ({cols}, {_VERSION_DEFAULT}) "
            f"ENGINE = ReplacingMergeTree({VERSION_COLUMN}) ORDER BY ({keys}) "
            f"SETTINGS {DEDUP_SETTINGS}"
        )

    def create_sums(
        self, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> list[str]:
        every = {name for name, _ in columns}  # no NULL: a sum of nothing is 0
        cols = ", ".join(self._column(n, k, every) for n, k in columns)
        keys = ", ".join(check_identifier(k) for k in key)
        values = ", ".join(check_identifier(n) for n, _ in columns if n not in set(key))
        return [
            f"CREATE TABLE IF NOT EXISTS {check_identifier(table)} ({cols}) "
            f"ENGINE = SummingMergeTree(({values})) ORDER BY ({keys}) "
            f"SETTINGS {DEDUP_SETTINGS}"
        ]

    def compact_sums(
        self, table: str, key: Sequence[str], values: Sequence[str], where: str
    ) -> list[str]:
        return []

    def summing_read(self, statement: str) -> str:
        return f"{statement} SETTINGS final = 0"

    def temp_table_as(self, table: str, select: str) -> list[str]:
        name = check_identifier(table)
        return [
            f"DROP TEMPORARY TABLE IF EXISTS {name}",
            f"CREATE TEMPORARY TABLE {name} ENGINE = Memory AS {select}",
        ]

    def create_rollup(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        key: Sequence[str],
        merges: Mapping[str, Merge],
    ) -> list[str]:
        """The parts table of contributions and the view that folds them by key."""
        if not key:
            return [self.create_table(table, columns, key)]
        keyset = set(key)
        cols = ", ".join(self._column(n, k, keyset) for n, k in columns)
        keys = ", ".join(check_identifier(k) for k in key)
        parts = parts_table(table)
        # Sorted by the key's first column (the hour/day for the time rollups) only:
        # the view groups by the whole key anyway, and a key column outside the sort
        # key can be changed by a mutation (an erasure's move to the erased user).
        first = check_identifier(key[0])
        folded = ", ".join(
            check_identifier(name)
            if name in keyset
            else _FOLDS[merges[name]].format(c=name, v=VERSION_COLUMN) + f" AS {name}"
            for name, _ in columns
            if name in keyset or name in merges
        )
        return [
            f"CREATE TABLE IF NOT EXISTS {parts} ({cols}, {_VERSION_DEFAULT}) "
            f"ENGINE = MergeTree ORDER BY ({first}) SETTINGS {DEDUP_SETTINGS}",
            f"CREATE VIEW IF NOT EXISTS {check_identifier(table)} AS SELECT {folded} "
            f"FROM {parts} GROUP BY {keys}",
        ]

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        merges: Mapping[str, Merge],
        select: str,
    ) -> str:
        names = ", ".join(check_identifier(c) for c in columns)
        return f"INSERT INTO {parts_table(table)} ({names}) {select}"

    def rollup_delete(self, table: str, key: Sequence[str], where: str) -> str:
        """Delete a rollup's rows: every contribution of the keys whose folded row
        matches ``where`` (lightweight ``DELETE``; the subquery reads the view)."""
        keys = ", ".join(check_identifier(k) for k in key)
        return (
            f"DELETE FROM {parts_table(table)} WHERE ({keys}) IN "
            f"(SELECT {keys} FROM {check_identifier(table)} WHERE {where})"
        )

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
        # The contributions change key; the view folds them into the new key's row.
        # Possible because a parts table is sorted by the key's first column only.
        if not key or column == key[0] or column not in key:
            raise ValueError(f"cannot reassign {column!r} of {table!r}")
        return [
            f"ALTER TABLE {parts_table(table)} UPDATE {check_identifier(column)} = {value} "
            f"WHERE {where}"
        ]

    def update_where(self, table: str, assignments: Mapping[str, str], where: str) -> str:
        sets = ", ".join(f"{check_identifier(c)} = {expr}" for c, expr in assignments.items())
        return f"ALTER TABLE {check_identifier(table)} UPDATE {sets} WHERE {where}"

    def update_from(
        self, table: str, assignments: Mapping[str, str], source: str, alias: str, on: str
    ) -> str:
        spec = next((t for t in TABLES.values() if t.name == table), None)
        if spec is None:
            raise ValueError(f"update_from: not a raw table: {table!r}")
        for column in assignments:
            check_identifier(column)
        # The changed rows again, newer: ReplacingMergeTree(_version) + FINAL keeps them.
        t = check_identifier(table)
        select = ", ".join(
            f"{assignments[c.name]} AS {c.name}" if c.name in assignments else f"{t}.{c.name}"
            for c in spec.columns
        )
        names = ", ".join(c.name for c in spec.columns)
        return (
            f"INSERT INTO {t} ({names}) SELECT {select} FROM {t} FINAL "
            f"JOIN {check_identifier(source)} AS {check_identifier(alias)} ON {on}"
        )

    def rollup_sums_source(self, table: str) -> str:
        # Summing the contributions is summing the folded rows; folding first (the
        # view's GROUP BY over every key) was most of the time of a dashboard read.
        return parts_table(table)

    def rollup_keys_with(self, table: str, columns: Sequence[str], cond: str) -> str:
        # The view's GROUP BY then folds only these keys: an IN on key columns is
        # pushed below it (a condition on folded values, such as last_ts, is not).
        if not columns:
            raise ValueError("rollup_keys_with needs a key column")
        cols = ", ".join(check_identifier(c) for c in columns)
        lhs = f"({cols})" if len(columns) > 1 else cols
        return f"{lhs} IN (SELECT {cols} FROM {parts_table(table)} WHERE {cond})"

    def rollup_disagreeing(
        self, table: str, columns: Sequence[str], conds: Sequence[str], where: str = "true"
    ) -> str | None:
        # One scan of the filtered parts grouped by those columns only. A statement of
        # its own, not a subquery of the read: ClickHouse evaluated the scalar subquery
        # once per mention, and the read could not drop its folding side when the
        # answer is empty (bench/RESULTS.md, costs).
        if not columns or not conds:
            raise ValueError("rollup_disagreeing needs key columns and conditions")
        cols = ", ".join(check_identifier(c) for c in columns)
        mixed = " OR ".join(f"countIf({c}) NOT IN (0, count())" for c in conds)
        return (
            f"SELECT {cols} FROM {parts_table(table)} WHERE {where} "
            f"GROUP BY {cols} HAVING {mixed} ORDER BY {cols}"
        )

    def rollup_single(self, table: str, key: Sequence[str]) -> str:
        # Keys met once among the contributions, found by counting a 64-bit hash of
        # the key (one pass; grouping by the string key itself costs twice as much):
        # a hash met once is a key met once. Keys whose hash is met more often —
        # several loads, or (rarely) two keys with one hash — are folded by the caller
        # through the view, by the real key: exact either way. A scalar list, computed
        # once per statement and usually short.
        if not key:
            raise ValueError("rollup_single needs the key")
        cols = ", ".join(check_identifier(c) for c in key)
        return (
            f"NOT has((SELECT groupArray(h) FROM (SELECT cityHash64({cols}) AS h FROM "
            f"{parts_table(table)} GROUP BY h HAVING count() > 1)), cityHash64({cols}))"
        )

    def raw_source(self, table: str, days: str) -> str:
        # One table partitioned by day: partition pruning on ts does what DuckDB's
        # day tables do; the store drops the DayTables parameter.
        return check_identifier(table)

    def drop_partition(self, p: Params, table: str, column: str, day: dt.date) -> list[str]:
        # Tables are PARTITION BY toDate(ts): the day's partition id is YYYYMMDD.
        check_identifier(column)
        return [f"ALTER TABLE {check_identifier(table)} DROP PARTITION ID '{day:%Y%m%d}'"]


CLICKHOUSE: Final = ClickHouseDialect()
