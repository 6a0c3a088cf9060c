"""What each retention tier keeps (``stacklens retention status``,
``GET /api/v1/retention``, the console's admin page, ``/metrics``).

Per tier: the configured period (the longest any stack keeps it: a day leaves the
store only when every stack is done with it), the oldest data kept (the smallest time
over the tier's tables), bytes on disk (the sum over the tier's tables,
:meth:`~stacklens.store.base.Store.storage`) and the next drop: when the oldest day
is past the period, at the latest one retention-job interval after it ends + period.

:func:`tier_status` is pure (the figures in, the table out); :class:`RetentionView`
reads the figures through the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple, Protocol

import msgspec

from stacklens.alerting.durations import format_duration
from stacklens.ids import Clock
from stacklens.retention.tiers import TIERS, RetentionPolicy, Tier
from stacklens.store.base import Params, QueryResult
from stacklens.store.dialect import Dialect, check_identifier

__all__ = [
    "TIER_TABLES",
    "RetentionView",
    "TableTime",
    "TierStatus",
    "oldest_sql",
    "tier_status",
]

DAY_NS: Final = 86_400 * 10**9


class TableTime(NamedTuple):
    """A table of a tier and the column its age is read from (``kind``: timestamp or
    date)."""

    table: str
    column: str
    kind: str


#: The tables each tier holds. Raw events are ``events`` and ``metric_points`` (in a
#: store keeping a table per day, the store's storage sums every day's table).
TIER_TABLES: Final[Mapping[Tier, tuple[TableTime, ...]]] = {
    "events": (
        TableTime("events", "ts", "timestamp"),
        TableTime("metric_points", "ts", "timestamp"),
    ),
    "rollups": (TableTime("usage_hourly", "hour", "timestamp"),),
    "sessions": (TableTime("session_summaries", "last_ts", "timestamp"),),
    "billing": (
        TableTime("billing_daily", "day", "date"),
        TableTime("billing_adjustments", "day", "date"),
    ),
}


class TierStatus(msgspec.Struct, frozen=True):
    tier: str
    period: str
    period_ns: int
    #: Epoch ns of the oldest data kept (``None``: the tier is empty).
    oldest_ns: int | None
    bytes: int
    #: When the oldest day is dropped at the latest (``None``: nothing to drop).
    next_drop_ns: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "tier": self.tier,
            "period": self.period,
            "period_seconds": self.period_ns // 10**9,
            "oldest": _rfc3339(self.oldest_ns),
            "oldest_timestamp_ns": self.oldest_ns,
            "bytes": self.bytes,
            "next_drop": _rfc3339(self.next_drop_ns),
            "next_drop_timestamp_ns": self.next_drop_ns,
        }


def _rfc3339(ns: int | None) -> str | None:
    if ns is None:
        return None
    return dt.datetime.fromtimestamp(ns // 10**9, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tier_status(
    policy: RetentionPolicy,
    oldest_ns: Mapping[str, int | None],
    sizes: Mapping[str, int],
    *,
    now_ns: int,
    interval_ns: int,
) -> list[TierStatus]:
    """The table of every tier from the oldest time and the size of each table."""
    out = []
    for tier in TIERS:
        tables = TIER_TABLES[tier]
        times = [t for t in (oldest_ns.get(x.table) for x in tables) if t is not None]
        oldest = min(times) if times else None
        period = policy.longest(tier)
        next_drop = None
        if oldest is not None:
            # The oldest day goes as a whole once its end is ``period`` old; the job
            # looks every ``interval_ns``.
            day_end = oldest - oldest % DAY_NS + DAY_NS
            next_drop = max(day_end + period, now_ns) + interval_ns
        out.append(
            TierStatus(
                tier=tier,
                period=format_duration(period),
                period_ns=period,
                oldest_ns=oldest,
                bytes=sum(sizes.get(x.table, 0) for x in tables),
                next_drop_ns=next_drop,
            )
        )
    return out


def oldest_sql(d: Dialect, table: TableTime) -> str:
    """The oldest time in ``table`` as epoch ns (``NULL`` when empty)."""
    column = check_identifier(table.column)
    moment = (
        f"min({column})" if table.kind == "timestamp" else d.cast(f"min({column})", "timestamp")
    )
    return f"SELECT {d.ts_to_ns(moment)} FROM {check_identifier(table.table)}"


class StatusStore(Protocol):
    @property
    def dialect(self) -> Dialect: ...

    def fetch(self, statement: str, params: Params | None = None) -> QueryResult: ...

    def storage(self, tables: Sequence[str]) -> dict[str, int]: ...


class RetentionView:
    """Reads the figures of :func:`tier_status` through the store."""

    def __init__(
        self,
        store: StatusStore,
        policy: RetentionPolicy,
        *,
        clock: Clock,
        interval_s: float,
    ) -> None:
        self.store = store
        self.policy = policy
        self._clock = clock
        self.interval_ns = int(interval_s * 1e9)

    def status(self) -> list[TierStatus]:
        d = self.store.dialect
        tables = [t for tier in TIERS for t in TIER_TABLES[tier]]
        oldest: dict[str, int | None] = {}
        for table in tables:
            found = self.store.fetch(oldest_sql(d, table)).scalar()
            oldest[table.table] = None if found is None else int(found)
        sizes = self.store.storage([t.table for t in tables])
        return tier_status(
            self.policy, oldest, sizes, now_ns=self._clock(), interval_ns=self.interval_ns
        )
