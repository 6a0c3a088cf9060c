"""Keeping ``metric_minutes`` whole: filled from the raw events a store held before the
table existed, and its just-closed minutes folded.

**Backfill.** The loader adds every event it stores to ``metric_minutes``; events
stored before the table was added (a hub upgraded from a version without it) are in no
minute row, so the Prometheus query API's history of the hub's counters would start at
the upgrade. At start, before any loader runs, every stored raw day with no minute row
gets its minutes from its raw events, one day per write. A day with rows is done: the
loader never runs before the backfill has finished once (a crash part way leaves whole
days, each written in one transaction), and retention removes a day's minutes with the
raw day. Several ClickHouse replicas starting at once may both find a day missing:
each day's write carries the same deduplication token on every replica
(:meth:`~stacklens.store.base.Store.apply_staged` derives it from the staged rows and
the statement), so ClickHouse keeps the first replica's rows and drops the others.

**Compaction.** Each load appends one row per series and minute it touched, and the
loader runs every 0.2 s: a busy minute gets a row per series from each of ~300 loads.
:class:`MinutesCompaction` folds the minutes before the newest one every
``interval_s`` into one row per key (DuckDB; ClickHouse's ``SummingMergeTree`` merges
do it, so there it runs nothing). Reads sum rows, so they are right at any moment;
compaction only keeps them few.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Final

import structlog

from stacklens.analytics.rollups import (
    METRIC_MINUTES,
    MINUTE_NS,
    metric_minutes_sql,
    staged_minutes_sql,
)
from stacklens.store.base import StagedRows, Store

__all__ = [
    "BACKFILL_DAY",
    "COMPACT_WINDOW_NS",
    "MinutesCompaction",
    "backfill_metric_minutes",
    "compact_sql",
]

log = structlog.get_logger(__name__)

#: The staged table naming the day a backfill write covers (its deduplication token).
BACKFILL_DAY: Final = "minutes_backfill_day"
_DAY_NS: Final = 86_400 * 10**9
#: How far before the newest minute a compaction folds: more than the loader can
#: have touched since the last one. Older repeated keys (a late event's row) stay.
COMPACT_WINDOW_NS: Final = 15 * MINUTE_NS
_WINDOW: Final = "minutes_compaction"


def _day_ns(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 10**9


def backfill_metric_minutes(store: Store) -> list[dt.date]:
    """Fold the stored raw events of every day without a minute row into
    ``metric_minutes``; the days written."""
    d = store.dialect
    have = {
        str(day)
        for (day,) in store.fetch(
            f"SELECT DISTINCT {d.date_to_text(d.day('minute'))} FROM {METRIC_MINUTES.name}"
        ).rows
    }
    days = [p.day for p in store.partitions("events") if p.rows and p.day.isoformat() not in have]
    for day in days:
        start = _day_ns(day)
        where = (
            f"s.ts >= {d.ts_from_ns(str(start))} AND s.ts < {d.ts_from_ns(str(start + _DAY_NS))}"
        )
        statements = [*staged_minutes_sql(d, "events", where), metric_minutes_sql(d)]
        store.apply_staged(
            StagedRows(BACKFILL_DAY, (("day", "string"),), [(day.isoformat(),)]), statements
        )
    if days:
        log.info("metric_minutes backfilled from raw events", days=len(days))
    return days


def compact_sql(store: Store) -> list[str]:
    """Fold the repeated keys of the :data:`COMPACT_WINDOW_NS` before the newest minute
    (that one is still filling)."""
    d = store.dialect
    newest = f"(SELECT max(minute) FROM {METRIC_MINUTES.name})"
    since = d.ts_from_ns(f"{d.ts_to_ns(newest)} - {COMPACT_WINDOW_NS}")
    where = f"minute >= {since} AND minute < {newest}"
    return d.compact_sums(METRIC_MINUTES.name, METRIC_MINUTES.key, ("value",), where)


class MinutesCompaction:
    """Every ``interval_s`` (and :meth:`run_once`), the store's :func:`compact_sql`,
    in one of its transactions."""

    def __init__(self, store: Store, *, interval_s: float = 60.0) -> None:
        self._store = store
        self.interval_s = interval_s
        self._statements = compact_sql(store)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        if self._statements:
            self._store.apply_staged(StagedRows(_WINDOW, (("n", "int"),), []), self._statements)

    def start(self) -> None:
        if self._statements and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="stacklens-minutes-compaction", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # the next pass folds what this one did not
                log.exception("metric_minutes compaction failed")
