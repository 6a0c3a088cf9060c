"""What expires when: pure functions over a policy and a clock, and the SQL that
removes it (over a :class:`~stacklens.store.dialect.Dialect`).

Time rules (a row goes only when its whole period is past retention):

- a raw **day** goes when its end is at least the tier's period ago;
- an hourly rollup row when its hour's end is, a billing row when its day's end is;
- a **session** when its last activity is.

Raw days go whole (``Store.drop_day``) once no stack keeps them; a stack kept for a
shorter time than others has its own rows deleted from the days the others still keep.
Rollup tables are small (rows per hour x dimensions, not per event): they expire by a
``DELETE`` of old rows, with each stack's cutoff staged as a table
(:data:`CUTOFFS`), one statement per table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Final, NamedTuple

from stacklens.analytics.rollups import ROLLUP_TABLES, SUM_TABLES
from stacklens.retention.tiers import RetentionPolicy, Tier
from stacklens.store.base import StagedRows, Store
from stacklens.store.columns import TABLES
from stacklens.store.dialect import Dialect, check_identifier

__all__ = [
    "CUTOFFS",
    "DAY_NS",
    "DEFAULT_STACK",
    "HOUR_NS",
    "RAW_STREAMS",
    "ROLLUP_EXPIRY",
    "RollupExpiry",
    "cutoffs",
    "day_of",
    "day_start_ns",
    "expire_rollup_sql",
    "raw_days",
    "staged_cutoffs",
    "trim_day_sql",
]

DAY_NS: Final = 86_400 * 10**9
HOUR_NS: Final = 3_600 * 10**9
#: The spool streams whose rows are raw (the events tier): their tables' days.
RAW_STREAMS: Final = ("events", "metrics")
#: The temp table of per-stack cutoffs the expiry statements read.
CUTOFFS: Final = "retention_cutoffs"
#: Its row for every stack without a policy of its own (stack names never hold ``*``).
DEFAULT_STACK: Final = "*"


class RollupExpiry(NamedTuple):
    table: str
    #: The time column a row's age is read from.
    column: str
    #: ``ts``: a timestamp column; ``date``: a day column.
    kind: str
    tier: Tier
    #: Width of the period a row covers, so it goes only when all of it is old.
    grain_ns: int


#: The rollup tables that expire. ``stack_last_seen``, ``metric_labels`` and
#: ``metric_counters`` do not: one row per stack or series, and /metrics counters must
#: never decrease. ``metric_minutes`` is kept as long as raw events, and goes by whole
#: days as they do: the Prometheus API's history reads the same days from either.
ROLLUP_EXPIRY: Final = (
    RollupExpiry("usage_hourly", "hour", "ts", "rollups", HOUR_NS),
    RollupExpiry("session_summaries", "last_ts", "ts", "sessions", 0),
    RollupExpiry("billing_daily", "day", "date", "billing", DAY_NS),
    RollupExpiry("metric_minutes", "minute", "ts", "events", DAY_NS),
)


def day_start_ns(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 10**9


def day_of(ns: int) -> dt.date:
    return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)).date()


def cutoffs(policy: RetentionPolicy, tier: Tier, now_ns: int, grain_ns: int) -> dict[str, int]:
    """Per stack (and :data:`DEFAULT_STACK`): rows whose period starts before this
    instant are past retention at ``now_ns`` (a period of ``grain_ns`` goes when its
    end is at least the tier's period ago, so the cutoff is floored to the grain)."""

    def cut(period: int) -> int:
        moment = now_ns - period
        return moment - moment % grain_ns if grain_ns else moment

    out = {DEFAULT_STACK: cut(policy.default.period(tier))}
    out.update({name: cut(p.period(tier)) for name, p in policy.stacks.items()})
    return out


def staged_cutoffs(values: Mapping[str, int]) -> StagedRows:
    return StagedRows(
        CUTOFFS,
        (("stack_name", "string"), ("before_ts", "timestamp")),
        sorted(values.items()),
    )


_DEFAULT_CUTOFF: Final = (
    f"(SELECT dflt.before_ts FROM {CUTOFFS} dflt WHERE dflt.stack_name = '{DEFAULT_STACK}')"
)
_OWN_POLICY: Final = (
    f"(SELECT own.stack_name FROM {CUTOFFS} own WHERE own.stack_name != '{DEFAULT_STACK}')"
)


def expire_rollup_sql(d: Dialect, expiry: RollupExpiry) -> str:
    """Delete the rows of one rollup table past their stack's cutoff (over the staged
    :data:`CUTOFFS`).

    The rows go by key, chosen by a subquery that reads no column of the row being
    deleted: ClickHouse runs the delete as a mutation, which refuses correlated
    subqueries, and deletes a rollup's contributions (its parts table) while the key
    is read from the folded rollup."""
    table, column = check_identifier(expiry.table), check_identifier(expiry.column)
    key = next(t.key for t in (*ROLLUP_TABLES, *SUM_TABLES) if t.name == table)
    keys = ", ".join(key)
    picked = ", ".join(f"x.{k}" for k in key)

    def bound(cutoff: str) -> str:
        return d.day(cutoff) if expiry.kind == "date" else cutoff

    own = (
        f"SELECT {picked} FROM {table} x JOIN {CUTOFFS} r ON r.stack_name = x.stack_name "
        f"WHERE x.{column} < {bound('r.before_ts')}"
    )
    default = (
        f"SELECT {picked} FROM {table} x WHERE x.stack_name NOT IN {_OWN_POLICY} "
        f"AND x.{column} < {bound(_DEFAULT_CUTOFF)}"
    )
    picked_keys = f"({keys}) IN ({own} UNION ALL {default})"
    if any(t.name == table for t in SUM_TABLES):  # a plain table: its rows are its keys
        return f"DELETE FROM {table} WHERE {picked_keys}"
    return d.rollup_delete(table, key, picked_keys)


def trim_day_sql(d: Dialect, stream: str, day: dt.date) -> str:
    """Delete, from one raw day another stack still keeps, the rows of the stacks whose
    retention has passed it (over the staged :data:`CUTOFFS`). Day bounds are numbers
    the job computed, never input.

    Raw cutoffs are whole days (the job floors them to the day), so a stack's rows of
    the day go exactly when its cutoff is at or past the day's end; a cutoff inside
    the day (never computed) would keep the day's rows, never lose them early. No
    subquery reads the row deleted (a ClickHouse mutation refuses correlated ones)."""
    table = check_identifier(TABLES[stream].name)
    start = day_start_ns(day)
    lo = d.ts_from_ns(str(int(start)))
    hi = d.ts_from_ns(str(int(start + DAY_NS)))
    passed = (
        f"(stack_name IN (SELECT r.stack_name FROM {CUTOFFS} r WHERE r.before_ts >= {hi} "
        f"AND r.stack_name != '{DEFAULT_STACK}') OR (stack_name NOT IN {_OWN_POLICY} "
        f"AND {_DEFAULT_CUTOFF} >= {hi}))"
    )
    return f"DELETE FROM {table} WHERE ts >= {lo} AND ts < {hi} AND {passed}"


def raw_days(store: Store, stream: str, before_ns: int) -> list[dt.date]:
    """The UTC days holding rows of ``stream`` that start before ``before_ns``, from
    the store's partition list (its catalog: no scan of the rows)."""
    return [p.day for p in store.partitions(stream) if day_start_ns(p.day) < before_ns]
