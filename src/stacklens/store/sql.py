"""Pure builders of the store's SQL over a :class:`~stacklens.store.dialect.Dialect`.

Each builder returns the statement and its parameters; values are always parameters,
identifiers and types come from :mod:`stacklens.store.columns` only. What cannot be
written over the dialect (reading NDJSON spool files into ``staging``) is the
adapter's: see :mod:`stacklens.store.duckdb`.

``staging`` is the temp table a load fills with one batch (already one row per key);
the statements here deduplicate it against the stored rows and move it in.

A raw stream (``events``, ``metric_points``) is stored one table per UTC day of event
time (``events_p20260115``) under a view with the stream's table name that is the
``UNION ALL`` of the day tables: readers query ``events`` unchanged, and expiring a day
is dropping its table (a DuckDB ``DELETE`` never gives space back; a dropped table's
blocks are reused after the next checkpoint).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from stacklens.store.base import EventQuery
from stacklens.store.columns import EVENTS, METRIC_POINTS, TABLES, TableSpec
from stacklens.store.dialect import DUCKDB, Dialect, Params, check_identifier

__all__ = [
    "CHECKPOINTS",
    "checkpoint_sql",
    "checkpoints_ddl",
    "count_events_sql",
    "day_table",
    "day_table_ddl",
    "dedup_staged_sql",
    "drop_day_sql",
    "drop_day_table_sql",
    "erase_user_rows_sql",
    "insert_staged_day_sql",
    "insert_staged_sql",
    "metric_names_sql",
    "parse_day_table",
    "partition_view_sql",
    "select_events_sql",
    "select_metric_points_sql",
    "set_checkpoint_sql",
    "stacks_since",
    "staged_days_sql",
    "table_ddl",
]

Statement = tuple[str, dict[str, Any]]

#: Stream name → the number of the last spool segment loaded from it.
CHECKPOINTS: Final = "spool_checkpoints"
_CHECKPOINT_COLUMNS: Final = (("stream", "string"), ("segment", "int"))
#: The event-time column a raw stream is partitioned by (every raw table has it).
PARTITION_COLUMN: Final = "ts"
_DAY_SUFFIX: Final = re.compile(r"_p(\d{4})(\d{2})(\d{2})")


def stacks_since(d: Dialect, p: Params, starts: Mapping[str, int], name: str) -> str:
    """A condition: each stack's rows from its own start (``starts``: stack name to
    epoch ns), ``(stack_name IN (..) AND ts >= ..) OR ..``; stacks sharing a start share
    a term. ``name`` prefixes the parameters (two conditions in one statement)."""
    if not starts:
        raise ValueError("starts names no stack")
    by_start: dict[int, list[str]] = {}
    for stack, start in sorted(starts.items()):
        by_start.setdefault(start, []).append(stack)
    terms = [
        f"({d.in_list('stack_name', p(f'{name}_stacks{i}', stacks, 'str_list'))} "
        f"AND ts >= {d.ts_from_ns(p(f'{name}_from{i}', start, 'ts_ns'))})"
        for i, (start, stacks) in enumerate(sorted(by_start.items()))
    ]
    return f"({' OR '.join(terms)})"


def table_ddl(table: TableSpec, d: Dialect = DUCKDB) -> str:
    """An append-only table of row structs (no unique key: the loader deduplicates)."""
    return d.create_table(table.name, [(c.name, c.kind) for c in table.columns], ())


def checkpoints_ddl(d: Dialect = DUCKDB) -> str:
    return d.create_table(CHECKPOINTS, _CHECKPOINT_COLUMNS, ("stream",))


def checkpoint_sql(stream: str, d: Dialect = DUCKDB) -> Statement:
    p = Params(d)
    return f"SELECT segment FROM {CHECKPOINTS} WHERE stream = {p('stream', stream)}", p.values


def set_checkpoint_sql(stream: str, segment: int, d: Dialect = DUCKDB) -> Statement:
    """Move ``stream``'s checkpoint to ``segment`` (run in the load's transaction)."""
    p = Params(d)
    select = f"SELECT {p('stream', stream)}, {p('segment', segment, 'int')}"
    statement = d.upsert(
        CHECKPOINTS, ("stream", "segment"), ("stream",), {"segment": "replace"}, select
    )
    return statement, p.values


def dedup_staged_sql(table: TableSpec, since_ns: int, d: Dialect = DUCKDB) -> Statement:
    """Drop from ``staging`` the rows whose key is already stored: a client's retry of
    an acknowledged batch (``since_ns``: the retry window's start, in ``received_ns``).

    Rows are appended in the order they were received, so DuckDB's zone maps on
    ``received_ns`` prune the lookup to the window's last row groups however large the
    table grows (an event-time bound would not: a batch can span hours of event time).
    """
    p = Params(d)
    key = table.key
    return (
        f"DELETE FROM staging WHERE {key} IN (SELECT e.{key} FROM {table.name} e "
        f"WHERE e.received_ns >= {p('since', since_ns, 'int')} "
        f"AND e.{key} IN (SELECT {key} FROM staging))",
        p.values,
    )


def insert_staged_sql(table: TableSpec, d: Dialect = DUCKDB) -> str:
    """Move ``staging`` (already deduplicated) into ``table``."""
    names = ", ".join(c.name for c in table.columns)
    return f"INSERT INTO {table.name} ({names}) SELECT {names} FROM staging"


def _time_range(
    d: Dialect, p: Params, where: list[str], since_ns: int | None, until_ns: int | None
) -> None:
    if since_ns is not None:
        where.append(f"ts >= {d.ts_from_ns(p('since', since_ns, 'ts_ns'))}")
    if until_ns is not None:
        where.append(f"ts < {d.ts_from_ns(p('until', until_ns, 'ts_ns'))}")


def _stacks(d: Dialect, p: Params, where: list[str], stacks: tuple[str, ...] | None) -> None:
    if stacks is not None:
        where.append(d.in_list("stack_name", p("stacks", stacks, "str_list")))


def _columns_out(d: Dialect, table: TableSpec, skip: tuple[str, ...] = ()) -> str:
    """Every column, timestamps as epoch nanoseconds."""
    return ", ".join(
        f"{d.ts_to_ns(c.name)} AS {c.name}" if c.kind == "timestamp" else c.name
        for c in table.columns
        if c.name not in skip
    )


def _where(where: list[str]) -> str:
    return f" WHERE {' AND '.join(where)}" if where else ""


def select_events_sql(query: EventQuery, d: Dialect = DUCKDB) -> Statement:
    """``SELECT`` for the event listing, newest first."""
    p = Params(d)
    where: list[str] = []
    _stacks(d, p, where, query.stacks)
    for field in ("event_type", "session_id", "trace_id"):
        value = getattr(query, field)
        if value is not None:
            where.append(f"{field} = {p(field, value)}")
    _time_range(d, p, where, query.since_ns, query.until_ns)
    limit = p("limit", query.limit, "int")
    return (
        f"SELECT {_columns_out(d, EVENTS)} FROM events{_where(where)} "
        f"ORDER BY ts DESC, event_id DESC LIMIT {limit}",
        p.values,
    )


def select_metric_points_sql(
    *,
    name: str | None,
    stacks: tuple[str, ...] | None,
    since_ns: int | None,
    until_ns: int | None,
    limit: int,
    d: Dialect = DUCKDB,
) -> Statement:
    """Stored OTel metric points, newest first (``name=None``: every name)."""
    p = Params(d)
    where: list[str] = []
    if name is not None:
        where.append(f"name = {p('name', name)}")
    _stacks(d, p, where, stacks)
    _time_range(d, p, where, since_ns, until_ns)
    columns = _columns_out(d, METRIC_POINTS, skip=("received_ns",))
    return (
        f"SELECT {columns} FROM metric_points{_where(where)} "
        f"ORDER BY ts DESC LIMIT {p('limit', limit, 'int')}",
        p.values,
    )


def metric_names_sql(stacks: tuple[str, ...] | None, d: Dialect = DUCKDB) -> Statement:
    """Each metric name and kind: a unit, its number of points, its newest point (ns).
    Stale markers (remote write's series ends) are no kind of their own, nor points."""
    p = Params(d)
    where: list[str] = ["kind != 'stale'"]
    _stacks(d, p, where, stacks)
    return (
        f"SELECT name, kind, {d.any_value('unit')} AS unit, count(*) AS points, "
        f"{d.ts_to_ns('max(ts)')} AS last_ns FROM metric_points{_where(where)} "
        "GROUP BY name, kind ORDER BY name",
        p.values,
    )


def count_events_sql() -> str:
    return "SELECT count(*) FROM events"


def drop_day_sql(
    stream: str, day: dt.date, d: Dialect = DUCKDB
) -> tuple[list[str], dict[str, Any]]:
    """Drop one UTC day (by event time ``ts``) of a stream's table."""
    p = Params(d)
    return d.drop_partition(p, TABLES[stream].name, "ts", day), p.values


#: Raw tables that hold a ``user_id`` column: events, logs and spans. OTel metric
#: points carry no user (their attributes are the exporter's labels).
USER_ROW_TABLES: Final = (EVENTS,)


def erase_user_rows_sql(table: str, user_ids: tuple[str, ...], d: Dialect = DUCKDB) -> Statement:
    """Delete one table's rows of these users (``table``: a raw table, or one day's
    table of it once the store keeps a table per day)."""
    p = Params(d)
    users = p("users", user_ids, "str_list")
    return f"DELETE FROM {check_identifier(table)} WHERE {d.in_list('user_id', users)}", p.values


# -- day partitions of the raw streams ---------------------------------------------------


def day_table(table: TableSpec, day: dt.date) -> str:
    """The name of ``table``'s partition for the UTC ``day``: ``events_p20260115``."""
    return f"{table.name}_p{day.year:04d}{day.month:02d}{day.day:02d}"


def parse_day_table(table: TableSpec, name: str) -> dt.date | None:
    """The day of partition table ``name`` of ``table`` (``None``: not one of its)."""
    prefix = table.name
    if not name.startswith(prefix):
        return None
    found = _DAY_SUFFIX.fullmatch(name[len(prefix) :])
    if found is None:
        return None
    try:
        return dt.date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


def day_table_ddl(table: TableSpec, day: dt.date, d: Dialect = DUCKDB) -> str:
    """One day's partition table: the stream's columns, append-only."""
    return d.create_table(day_table(table, day), [(c.name, c.kind) for c in table.columns], ())


def partition_view_sql(table: TableSpec, days: Iterable[dt.date], d: Dialect = DUCKDB) -> str:
    """(Re)create the view named like the stream over its day tables (oldest first);
    with no day stored, an empty relation of the same columns and types."""
    names = ", ".join(c.name for c in table.columns)
    parts = [f"SELECT {names} FROM {day_table(table, day)}" for day in sorted(days)]
    if not parts:
        empty = ", ".join(f"{d.cast('NULL', c.kind)} AS {c.name}" for c in table.columns)
        parts = [f"SELECT {empty} WHERE 1 = 0"]
    return f"CREATE OR REPLACE VIEW {table.name} AS " + " UNION ALL ".join(parts)


_INT64_MAX: Final = 2**63 - 1


def _day_bounds(p: Params, d: Dialect, day: dt.date) -> tuple[str, str]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    start_ns = int(start.timestamp()) * 10**9
    lo = d.ts_from_ns(p("day_since", start_ns, "ts_ns"))
    # The last day the contract allows (2262-04-11) ends past int64: bound it there.
    hi = d.ts_from_ns(p("day_until", min(start_ns + 86400 * 10**9, _INT64_MAX), "ts_ns"))
    return lo, hi


def staged_days_sql(d: Dialect = DUCKDB, *, source: str = "staging") -> str:
    """The UTC days the rows of ``source`` fall on (a ``NULL`` day: a row without time)."""
    day = d.day(PARTITION_COLUMN)
    return f"SELECT DISTINCT {day} AS day FROM {check_identifier(source)} ORDER BY day"


def insert_staged_day_sql(
    table: TableSpec, day: dt.date, d: Dialect = DUCKDB, *, source: str = "staging"
) -> Statement:
    """Move the rows of ``source`` (``staging``, already deduplicated; a pre-partition
    table when migrating) that fall on ``day`` into that day's table (an event however
    late lands in its own day)."""
    p = Params(d)
    lo, hi = _day_bounds(p, d, day)
    names = ", ".join(c.name for c in table.columns)
    c = PARTITION_COLUMN
    return (
        f"INSERT INTO {day_table(table, day)} ({names}) SELECT {names} "
        f"FROM {check_identifier(source)} WHERE {c} >= {lo} AND {c} < {hi}",
        p.values,
    )


def drop_day_table_sql(table: TableSpec, day: dt.date) -> str:
    """Drop one day's partition table (nothing when the day has none)."""
    return f"DROP TABLE IF EXISTS {day_table(table, day)}"
