"""SQL dialects: the one place where backends differ.

Every statement the hub runs is written once (the store's in :mod:`stacklens.store.sql`,
the analytics and rollups in :mod:`stacklens.analytics`, the alert signals in
:mod:`stacklens.alerting.signals`) against the small vocabulary below; a backend
supplies its spelling of parameters, time conversion and buckets, conditional
aggregates, quantiles, JSON access, regular expressions, list membership, casts and
column types, table DDL, upserts, how rollups are read (their contributions summed,
which keys to fold) and dropping a day of a time-partitioned table.
DuckDB is the embedded default; the ClickHouse dialect
(:mod:`stacklens.store.clickhouse_dialect`) implements the same methods
(``{name:Type}`` parameters, integer bucket math, ``quantileExactInclusive``,
``JSONExtract*``, ``has``, rollups as parts tables under folding views,
``ALTER TABLE ... DROP PARTITION``).

Builders never format user input into SQL: values travel as parameters
(:class:`Params`), identifiers come from fixed allow-lists, and the only literals a
dialect renders are numbers and names the caller checked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, NamedTuple, Protocol

__all__ = [
    "DUCKDB",
    "DayTables",
    "Dialect",
    "DuckDBDialect",
    "Merge",
    "Params",
    "check_identifier",
]

#: How an upsert folds a new row into an existing one, per value column.
Merge = Literal["sum", "min", "max", "union", "coalesce", "replace"]
#: Logical parameter / column kinds.
Kind = Literal["int", "float", "str", "bool", "ts_ns", "str_list", "date"]

_IDENTIFIER: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_identifier(name: str) -> str:
    """``name`` if it is a plain lower-case identifier, else ``ValueError``.

    Identifiers in analytics SQL come from fixed allow-lists; this is the last guard.
    """
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not an identifier: {name!r}")
    return name


class Dialect(Protocol):
    """The vocabulary analytics SQL is written in."""

    name: str

    def placeholder(self, name: str, kind: Kind) -> str:
        """The parameter reference for ``name`` (``$name``, ``{name:Int64}``, ...)."""
        ...

    def ts_from_ns(self, expr: str) -> str:
        """Epoch nanoseconds (an int expression) → the backend's timestamp."""
        ...

    def ts_to_ns(self, expr: str) -> str:
        """A timestamp → epoch nanoseconds (int)."""
        ...

    def bucket_ns(self, ts: str, step_ns: str) -> str:
        """Start of the ``step_ns``-wide bucket holding ``ts``, as epoch nanoseconds
        (buckets are aligned on the Unix epoch)."""
        ...

    def hour(self, ts: str) -> str:
        """``ts`` truncated to the hour (a timestamp)."""
        ...

    def day(self, ts: str) -> str:
        """``ts`` → its UTC calendar date."""
        ...

    def date_from_ns(self, expr: str) -> str:
        """Epoch nanoseconds → UTC calendar date."""
        ...

    def date_to_text(self, expr: str) -> str:
        """A date → ``YYYY-MM-DD`` text."""
        ...

    def count_if(self, cond: str) -> str: ...

    def sum_if(self, expr: str, cond: str) -> str: ...

    def agg_if(self, func: str, expr: str, cond: str) -> str:
        """Aggregate ``func`` (sum, min, max, count) of ``expr`` over rows where ``cond``."""
        ...

    def arg_max(self, expr: str, by: str, cond: str | None = None) -> str:
        """Aggregate: ``expr`` of the row with the largest ``by`` (over rows where
        ``cond``, when given)."""
        ...

    def any_value(self, expr: str) -> str:
        """Aggregate: any one non-null value of ``expr``."""
        ...

    def newest(self, expr: str, n: int) -> str:
        """Aggregate: the ``n`` largest values of the integer ``expr`` (fewer if there
        are fewer), largest first, duplicates kept, as a list indexed from 1."""
        ...

    def quantile(self, expr: str, q: float) -> str:
        """Exact (interpolated) quantile ``q`` of ``expr``."""
        ...

    def json_text(self, column: str, key: str) -> str:
        """The text value of top-level ``key`` of a JSON column (``NULL`` if absent)."""
        ...

    def json_key(self, key: str) -> str:
        """The parameter value that names top-level ``key`` for :meth:`json_text_at`
        (a JSON path for DuckDB, the bare key for ClickHouse)."""
        ...

    def json_text_at(self, column: str, placeholder: str) -> str:
        """Like :meth:`json_text`, the key bound as a parameter (value from
        :meth:`json_key`): keys a user wrote never enter the SQL text."""
        ...

    def json_set_text(self, column: str, key: str, expr: str) -> str:
        """The JSON column with top-level ``key`` set to the text ``expr``."""
        ...

    def json_remove(self, column: str, key: str) -> str:
        """The JSON column without top-level ``key``."""
        ...

    def regex_full_match(self, expr: str, pattern: str) -> str:
        """``expr`` matches the regular expression ``pattern`` as a whole (anchored)."""
        ...

    def contains(self, expr: str, needle: str) -> str:
        """``expr`` contains the text ``needle`` (a placeholder), case-sensitively."""
        ...

    def regex_search(self, expr: str, pattern: str) -> str:
        """``expr`` matches the RE2 ``pattern`` (a placeholder) somewhere (unanchored)."""
        ...

    def cast(self, expr: str, kind: str) -> str:
        """``expr`` converted to the logical kind (see :meth:`column_type`)."""
        ...

    def ts_to_ms(self, expr: str) -> str:
        """A timestamp → epoch milliseconds (int, to the nearest millisecond: what
        ``last_seen_age`` has always reported)."""
        ...

    def in_list(self, expr: str, placeholder: str) -> str:
        """``expr`` is one of the list parameter ``placeholder``."""
        ...

    def hash64(self, exprs: Sequence[str]) -> str:
        """A 64-bit unsigned hash of the values of ``exprs`` together (the same values
        give the same number in every statement of one store)."""
        ...

    def distinct_list(self, expr: str) -> str:
        """Aggregate: the sorted distinct non-null values of ``expr`` as a list."""
        ...

    def ordered_list(self, expr: str, by: str) -> str:
        """Aggregate: every value of ``expr`` as a list, in the order of ``by`` (two
        such lists of one group, ordered by one unique ``by``, line up)."""
        ...

    def column_type(self, kind: str) -> str:
        """Column type for a logical kind (string, int, float, bool, timestamp, date,
        json, str_list, float_list, int_list)."""
        ...

    def create_table(
        self, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> str:
        """``CREATE TABLE IF NOT EXISTS`` with ``key`` as its unique/sorting key (an
        empty ``key``: an append-only table, no unique key)."""
        ...

    def create_sums(
        self, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> list[str]:
        """The DDL of a table of contributions: rows may repeat a ``key`` and every read
        sums them. DuckDB: a table without a unique key (no index held in memory, so
        no upsert), folded now and then by :meth:`compact_sums`; ClickHouse: a
        ``SummingMergeTree`` ordered by ``key`` (its merges fold them)."""
        ...

    def compact_sums(
        self, table: str, key: Sequence[str], values: Sequence[str], where: str
    ) -> list[str]:
        """Statements folding the rows of :meth:`create_sums` table ``table`` that
        match ``where`` and repeat a key into one row per key (sums unchanged). Run in
        a transaction; ClickHouse: none (its merges do it)."""
        ...

    def summing_read(self, statement: str) -> str:
        """``statement``, which reads tables of :meth:`create_sums` only and sums their
        rows, as it should run: ClickHouse reads without ``FINAL`` (folding the rows of
        unmerged parts at read time is what the sum does anyway)."""
        ...

    def temp_table_as(self, table: str, select: str) -> list[str]:
        """Statements that (re)create the session's temporary table ``table`` holding
        ``select``'s rows (a load's intermediate result, read by the next hooks)."""
        ...

    def create_rollup(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        key: Sequence[str],
        merges: Mapping[str, Merge],
    ) -> list[str]:
        """The DDL of a rollup table whose rows :meth:`upsert` folds by ``merges``
        (DuckDB: one keyed table; ClickHouse: a parts table and a view folding it)."""
        ...

    def rollup_delete(self, table: str, key: Sequence[str], where: str) -> str:
        """Delete the rows of rollup ``table`` (unique ``key``) matching ``where``,
        ``where`` judged on the rollup's rows as read (ClickHouse: on the folded rows,
        deleting every contribution of the keys it picks)."""
        ...

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
        """Move the rows of rollup ``table`` matching ``where`` to the key with key
        column ``column`` set to ``value``, folding them into a row already there (an
        erasure's billing records to the erased user). The last statement's changed
        rows are the records moved. DuckDB: a folding upsert, then a delete, in the
        store's transaction; ClickHouse: one mutation of the contributions' key column
        (atomic per part, and a re-run after a crash finds nothing left to move)."""
        ...

    def update_where(self, table: str, assignments: Mapping[str, str], where: str) -> str:
        """Set ``assignments`` on the rows of the plain (not rollup, not raw) table
        ``table`` matching ``where`` (ClickHouse renders a mutation)."""
        ...

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        merges: Mapping[str, Merge],
        select: str,
    ) -> str:
        """Insert ``select`` (producing ``columns``) into ``table``, folding rows whose
        ``key`` exists by each column's merge (sum, min, max, union of lists, coalesce,
        replace by the new value).
        """
        ...

    def update_from(
        self, table: str, assignments: Mapping[str, str], source: str, alias: str, on: str
    ) -> str:
        """Set ``assignments`` (column → expression) on the rows of ``table`` that
        match a row ``alias`` of ``source`` by ``on`` (a maintenance write: a cost
        backfill; ClickHouse renders a mutation)."""
        ...

    def rollup_sums_source(self, table: str) -> str:
        """What to read to *sum* value columns of rollup ``table`` per key columns:
        a read filtering on key columns only, whose every measure is a sum (or a
        conditional sum on key columns) of columns the rollup merges by ``sum``, gets
        the same figures from the contributions as from the folded rows, without
        folding them first. DuckDB: the table (its rows are folded on write);
        ClickHouse: the parts table (every contribution, unfolded)."""
        ...

    def rollup_keys_with(self, table: str, columns: Sequence[str], cond: str) -> str:
        """A condition narrowing the rows of rollup ``table`` to those whose key
        ``columns`` (the whole key, or some of it) have a contribution matching
        ``cond``; true at least for every row with a contribution matching ``cond``.
        The caller still applies its exact condition to the folded rows: this only
        lets a backend that folds on read (ClickHouse) fold fewer keys. It is exact
        wherever a folded row matching the caller's condition must have a contribution
        matching ``cond``: ``last_ts >= x`` for a ``max``-merged ``last_ts``,
        ``unpriced >= calls`` for two ``sum``-merged columns (a sum of contributions each
        below another's is below). DuckDB: ``cond`` (a stored row is its one
        contribution)."""
        ...

    def rollup_disagreeing(
        self, table: str, columns: Sequence[str], conds: Sequence[str], where: str = "true"
    ) -> str | None:
        """A statement whose rows are the values of ``columns`` (some of rollup
        ``table``'s key) where contributions (:meth:`rollup_sums_source`) sharing them
        and matching ``where`` disagree on one of ``conds`` (some match it, some do
        not; NULL counts as not matching). None: no value can disagree (DuckDB: each
        stored row is its key's one contribution), so there is nothing to run.

        For a condition that holds of a sum whenever it holds of every term and fails
        of it whenever it fails of every term (``unpriced >= calls``, ``unpriced > 0``
        over ``sum``-merged columns), a contribution whose values are not among these
        rows has its folded row's answer: only the keys with these values need
        folding. The caller runs this first and passes the values to its read as a
        parameter, so the read folds nothing when the list is empty (the usual case).

        ``where`` is the caller's own filter, on key columns only (every contribution
        of a key matches it or none does): only the contributions the read keeps are
        compared, not the whole history (billing is kept 7 years)."""
        ...

    def rollup_single(self, table: str, key: Sequence[str]) -> str:
        """A condition on the contributions (:meth:`rollup_sums_source`) of rollup
        ``table``: this contribution is the only one of its ``key`` (the whole key),
        so it is its folded row already. A read can take such contributions as they
        are and fold only the other keys (``NOT`` this, read from the rollup itself).
        DuckDB: true (each stored row is its key's one contribution)."""
        ...

    def raw_source(self, table: str, days: str) -> str:
        """The rows of the raw stream ``table``, read from only the day partitions the
        store names in the parameter ``days`` (a :class:`DayTables` it resolves): a
        statement over a short window then binds a few days, not every day kept."""
        ...

    def drop_partition(self, p: Params, table: str, column: str, day: dt.date) -> list[str]:
        """The statement(s) that drop every row of ``table`` whose time ``column``
        falls on the UTC day ``day`` (a timestamp or date column).

        A backend that partitions a table by day natively drops the partition. DuckDB
        has no partitions inside a table and renders a range ``DELETE``; the embedded
        store does not use it for the raw streams, which it keeps one table per day
        (:func:`stacklens.store.sql.day_table`) and expires by dropping that table."""
        ...


class DuckDBDialect:
    name = "duckdb"

    _TYPES: Final[Mapping[str, str]] = {
        "string": "VARCHAR",
        "int": "BIGINT",
        "float": "DOUBLE",
        "bool": "BOOLEAN",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "json": "JSON",
        "str_list": "VARCHAR[]",
        "float_list": "DOUBLE[]",
        "int_list": "BIGINT[]",
    }

    def placeholder(self, name: str, kind: Kind) -> str:
        return f"${check_identifier(name)}"

    def ts_from_ns(self, expr: str) -> str:
        return f"make_timestamp(({expr}) // 1000)"

    def ts_to_ns(self, expr: str) -> str:
        return f"epoch_ns({expr})"

    def bucket_ns(self, ts: str, step_ns: str) -> str:
        return f"((epoch_ns({ts}) // ({step_ns})) * ({step_ns}))"

    def hour(self, ts: str) -> str:
        return f"date_trunc('hour', {ts})"

    def day(self, ts: str) -> str:
        return f"CAST({ts} AS DATE)"

    def date_from_ns(self, expr: str) -> str:
        return f"CAST(make_timestamp(({expr}) // 1000) AS DATE)"

    def date_to_text(self, expr: str) -> str:
        return f"strftime({expr}, '%Y-%m-%d')"

    def count_if(self, cond: str) -> str:
        return f"count(*) FILTER (WHERE {cond})"

    def sum_if(self, expr: str, cond: str) -> str:
        return f"coalesce(sum({expr}) FILTER (WHERE {cond}), 0)"

    def agg_if(self, func: str, expr: str, cond: str) -> str:
        if func not in ("sum", "min", "max", "count", "avg"):
            raise ValueError(f"unsupported aggregate {func!r}")
        return f"{func}({expr}) FILTER (WHERE {cond})"

    def arg_max(self, expr: str, by: str, cond: str | None = None) -> str:
        where = f" FILTER (WHERE {cond})" if cond is not None else ""
        return f"arg_max({expr}, {by}){where}"

    def any_value(self, expr: str) -> str:
        return f"any_value({expr})"

    def newest(self, expr: str, n: int) -> str:
        return f"max({expr}, {int(n)})"

    def quantile(self, expr: str, q: float) -> str:
        if not 0.0 <= q <= 1.0:
            raise ValueError("a quantile is between 0 and 1")
        return f"quantile_cont({expr}, {float(q)!r})"

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract_string({check_identifier(column)}, '$.{check_identifier(key)}')"

    def json_key(self, key: str) -> str:
        if '"' in key or "\\" in key:
            raise ValueError(f"not a JSON key: {key!r}")
        return f'$."{key}"'

    def json_text_at(self, column: str, placeholder: str) -> str:
        return f"json_extract_string({check_identifier(column)}, {placeholder})"

    def json_set_text(self, column: str, key: str, expr: str) -> str:
        return f"json_merge_patch({column}, json_object('{check_identifier(key)}', {expr}))"

    def json_remove(self, column: str, key: str) -> str:
        # RFC 7396: a null in the patch removes the member.
        return f"json_merge_patch({column}, '{{\"{check_identifier(key)}\": null}}')"

    def regex_full_match(self, expr: str, pattern: str) -> str:
        return f"regexp_full_match({expr}, {pattern})"

    def contains(self, expr: str, needle: str) -> str:
        return f"contains({expr}, {needle})"

    def regex_search(self, expr: str, pattern: str) -> str:
        return f"regexp_matches({expr}, {pattern})"

    def cast(self, expr: str, kind: str) -> str:
        return f"CAST({expr} AS {self.column_type(kind)})"

    def ts_to_ms(self, expr: str) -> str:
        return f"epoch_ms({expr})"

    def in_list(self, expr: str, placeholder: str) -> str:
        return f"list_contains({placeholder}, {expr})"

    def hash64(self, exprs: Sequence[str]) -> str:
        return f"hash({', '.join(exprs)})"

    def distinct_list(self, expr: str) -> str:
        return f"list_sort(list_distinct(list({expr})))"

    def ordered_list(self, expr: str, by: str) -> str:
        return f"list({expr} ORDER BY {by})"

    def column_type(self, kind: str) -> str:
        return self._TYPES[kind]

    def create_table(
        self, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> str:
        keyset = set(key)
        cols = ", ".join(
            f"{check_identifier(name)} {self.column_type(kind)}"
            + (" NOT NULL" if name in keyset else "")
            for name, kind in columns
        )
        name = check_identifier(table)
        if not key:
            return f"CREATE TABLE IF NOT EXISTS {name} ({cols})"
        keys = ", ".join(check_identifier(k) for k in key)
        return f"CREATE TABLE IF NOT EXISTS {name} ({cols}, PRIMARY KEY ({keys}))"

    def create_sums(
        self, table: str, columns: Sequence[tuple[str, str]], key: Sequence[str]
    ) -> list[str]:
        return [self.create_table(table, columns, ())]

    def compact_sums(
        self, table: str, key: Sequence[str], values: Sequence[str], where: str
    ) -> list[str]:
        name = check_identifier(table)
        keys = ", ".join(check_identifier(k) for k in key)
        sums = ", ".join(f"sum({check_identifier(v)}) AS {check_identifier(v)}" for v in values)
        folded = f"{table}_folded"
        return [
            f"CREATE OR REPLACE TEMP TABLE {folded} AS SELECT {keys}, {sums} FROM {name} "
            f"WHERE {where} GROUP BY {keys} HAVING count(*) > 1",
            f"DELETE FROM {name} WHERE {where} AND ({keys}) IN (SELECT {keys} FROM {folded})",
            f"INSERT INTO {name} ({keys}, {', '.join(values)}) SELECT * FROM {folded}",
        ]

    def summing_read(self, statement: str) -> str:
        return statement

    def temp_table_as(self, table: str, select: str) -> list[str]:
        return [f"CREATE OR REPLACE TEMP TABLE {check_identifier(table)} AS {select}"]

    def create_rollup(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        key: Sequence[str],
        merges: Mapping[str, Merge],
    ) -> list[str]:
        return [self.create_table(table, columns, key)]

    def rollup_delete(self, table: str, key: Sequence[str], where: str) -> str:
        return f"DELETE FROM {check_identifier(table)} WHERE {where}"

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
        folds = {"sum": "sum({c})", "min": "min({c})", "max": "max({c})"}
        t = check_identifier(table)
        picked = [
            value
            if name == column
            else check_identifier(name)
            if name in key
            else folds[merges[name]].format(c=check_identifier(name))
            for name in names
        ]
        group = ", ".join(check_identifier(k) for k in key if k != column)
        select = f"SELECT {', '.join(picked)} FROM {t} WHERE {where} GROUP BY {group}"
        return [self.upsert(t, names, key, merges, select), self.rollup_delete(t, key, where)]

    def update_where(self, table: str, assignments: Mapping[str, str], where: str) -> str:
        sets = ", ".join(f"{check_identifier(c)} = {expr}" for c, expr in assignments.items())
        return f"UPDATE {check_identifier(table)} SET {sets} WHERE {where}"

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        merges: Mapping[str, Merge],
        select: str,
    ) -> str:
        t = check_identifier(table)
        names = ", ".join(check_identifier(c) for c in columns)
        folds = {
            "sum": "coalesce({t}.{c}, 0) + coalesce(excluded.{c}, 0)",
            "min": "least({t}.{c}, excluded.{c})",
            "max": "greatest({t}.{c}, excluded.{c})",
            "union": "list_sort(list_distinct(list_concat({t}.{c}, excluded.{c})))",
            "coalesce": "coalesce({t}.{c}, excluded.{c})",
            "replace": "excluded.{c}",
        }
        sets = ", ".join(
            f"{check_identifier(c)} = " + folds[merge].format(t=t, c=c)
            for c, merge in merges.items()
        )
        keys = ", ".join(check_identifier(k) for k in key)
        action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        return f"INSERT INTO {t} ({names}) {select} ON CONFLICT ({keys}) {action}"

    def update_from(
        self, table: str, assignments: Mapping[str, str], source: str, alias: str, on: str
    ) -> str:
        sets = ", ".join(f"{check_identifier(c)} = {expr}" for c, expr in assignments.items())
        t, a = check_identifier(table), check_identifier(alias)
        return f"UPDATE {t} SET {sets} FROM {check_identifier(source)} {a} WHERE {on}"

    def rollup_sums_source(self, table: str) -> str:
        return check_identifier(table)

    def rollup_keys_with(self, table: str, columns: Sequence[str], cond: str) -> str:
        check_identifier(table)
        return f"({cond})"

    def rollup_disagreeing(
        self, table: str, columns: Sequence[str], conds: Sequence[str], where: str = "true"
    ) -> str | None:
        check_identifier(table)
        return None

    def rollup_single(self, table: str, key: Sequence[str]) -> str:
        check_identifier(table)
        return "true"

    def raw_source(self, table: str, days: str) -> str:
        # Binding the ``UNION ALL`` view costs ~0.4 ms per day table per reference
        # (bench/RESULTS.md); ``query_table`` over the covering days binds only those.
        check_identifier(table)
        return f"query_table({days})"

    def drop_partition(self, p: Params, table: str, column: str, day: dt.date) -> list[str]:
        # No partitions inside a DuckDB table: a range DELETE over the day.
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        start_ns = int(start.timestamp()) * 10**9
        lo = self.ts_from_ns(p("drop_since", start_ns, "ts_ns"))
        hi = self.ts_from_ns(p("drop_until", start_ns + 86400 * 10**9, "ts_ns"))
        c = check_identifier(column)
        return [f"DELETE FROM {check_identifier(table)} WHERE {c} >= {lo} AND {c} < {hi}"]


DUCKDB: Final = DuckDBDialect()


class DayTables(NamedTuple):
    """A parameter value the store replaces, at execution, by the names of the raw
    stream ``table``'s day partitions overlapping ``[since_ns, until_ns)``."""

    table: str
    since_ns: int | None
    until_ns: int | None


class Params:
    """Collects the parameters of one statement: ``p("since", 123, "ts_ns")`` returns
    the dialect's placeholder and remembers the value."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.values: dict[str, Any] = {}

    def raw_source(self, table: str, since_ns: int | None, until_ns: int | None) -> str:
        """``table`` (a raw stream) restricted to the days overlapping
        ``[since_ns, until_ns)`` (``None``: open): a :class:`DayTables` parameter the
        store resolves to its day tables."""
        name = f"{check_identifier(table)}_days"
        wanted = DayTables(table, since_ns, until_ns)
        if name in self.values and self.values[name] != wanted:
            raise ValueError(f"parameter {name!r} bound twice with different values")
        self.values[name] = wanted
        return self.dialect.raw_source(table, self.dialect.placeholder(name, "str_list"))

    def __call__(self, name: str, value: Any, kind: Kind = "str") -> str:
        if name in self.values and self.values[name] != value:
            raise ValueError(f"parameter {name!r} bound twice with different values")
        self.values[name] = list(value) if kind == "str_list" else value
        return self.dialect.placeholder(name, kind)
