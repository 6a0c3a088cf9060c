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
#: never decrease.
ROLLUP_EXPIRY: Final = (
    RollupExpiry("usage_hourly", "hour", "ts", "rollups", HOUR_NS),
    RollupExpiry("session_summaries", "last_ts", "ts", "sessions", 0),
    RollupExpiry("billing_daily", "day", "date", "billing", DAY_NS),
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


def _cutoff_of(d: Dialect, table: str) -> str:
    """The staged cutoff for each row of ``table``: its stack's, else the default."""
    return (
        f"coalesce((SELECT r.before_ts FROM {CUTOFFS} r WHERE r.stack_name = {table}.stack_name), "
        f"(SELECT r.before_ts FROM {CUTOFFS} r WHERE r.stack_name = '{DEFAULT_STACK}'))"
    )


def expire_rollup_sql(d: Dialect, expiry: RollupExpiry) -> str:
    """Delete the rows of one rollup table past their stack's cutoff (over the staged
    :data:`CUTOFFS`)."""
    table, column = check_identifier(expiry.table), check_identifier(expiry.column)
    cutoff = _cutoff_of(d, table)
    bound = d.day(cutoff) if expiry.kind == "date" else cutoff
    return f"DELETE FROM {table} WHERE {column} < {bound}"


def trim_day_sql(d: Dialect, stream: str, day: dt.date) -> str:
    """Delete, from one raw day another stack still keeps, the rows of the stacks whose
    retention has passed it (over the staged :data:`CUTOFFS`). Day bounds are numbers
    the job computed, never input."""
    table = check_identifier(TABLES[stream].name)
    start = day_start_ns(day)
    lo = d.ts_from_ns(str(int(start)))
    hi = d.ts_from_ns(str(int(start + DAY_NS)))
    return f"DELETE FROM {table} WHERE ts >= {lo} AND ts < {hi} AND ts < {_cutoff_of(d, table)}"


def raw_days(store: Store, stream: str, before_ns: int) -> list[dt.date]:
    """The UTC days holding rows of ``stream`` that start before ``before_ns``, from
    the store's partition list (its catalog: no scan of the rows)."""
    return [p.day for p in store.partitions(stream) if day_start_ns(p.day) < before_ns]
