"""The retention job: a background thread that drops what is past retention.

Each run (every ``retention_interval_s``, and :meth:`RetentionJob.run_once` for tests
and the CLI):

1. **raw days** of each raw stream (``events``, ``metrics``): a UTC day no stack keeps
   any longer goes whole (``Store.drop_day``, one day per transaction); a day some
   stack still keeps loses the rows of the stacks whose shorter retention has passed;
2. **rollups** past the rollups period, **sessions** whose last activity is past the
   sessions period, **billing** records past the billing period (one ``DELETE`` per
   table; these tables are small).

**Rollups are complete before raw goes.** The loader writes a batch's rollups in the
transaction that inserts its rows, so a day's rollups are complete once all its rows
are loaded. The ingest door refuses an event older than events retention, so an event
of day *D* can be acknowledged only before ``end(D) + retention``; a day is dropped
only once the oldest row still waiting in the spool was received after that instant
(``pending_since``), i.e. when every row the hub will ever accept for it is loaded.
While the loader lags, old days simply wait for the next run.

Never long under the store's write lock: one day or one table per transaction, and a
run computes its work from what is stored, so ``kill -9`` at any point leaves either
a day dropped or not, and the next run finishes the rest. After a run that dropped
days the store is asked to give their space back (``Store.reclaim_space``: DuckDB's
``CHECKPOINT``; without it a small hub's WAL only grows, to 256 MB).

Not expired: ``stack_last_seen``, ``metric_labels`` and ``metric_counters`` (one row per
stack or series; the /metrics counters must never decrease).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final

import msgspec
import structlog

from stacklens.ids import Clock, system_clock_ns
from stacklens.retention.expiry import (
    DAY_NS,
    RAW_STREAMS,
    ROLLUP_EXPIRY,
    cutoffs,
    day_start_ns,
    expire_rollup_sql,
    raw_days,
    staged_cutoffs,
    trim_day_sql,
)
from stacklens.retention.tiers import RetentionPolicy
from stacklens.store.base import Store

__all__ = ["DaysLister", "RetentionJob", "RetentionReport"]

log = structlog.get_logger(__name__)

#: ``(store, stream, before_ns) -> days``: the days holding rows (see
#: :func:`stacklens.retention.expiry.raw_days`; a partitioned store lists partitions).
DaysLister = Callable[[Store, str, int], list[dt.date]]
#: The receive time (ns) of the oldest row of a stream still in the spool, or None.
PendingSince = Callable[[], int | None]

_MAX_DAYS_PER_RUN: Final = 400


class RetentionReport(msgspec.Struct, frozen=True, kw_only=True):
    """What one run did (``RetentionJob.last_run``; the status surfaces read it)."""

    started_ns: int
    duration_s: float
    #: ``stream/YYYY-MM-DD`` of every raw day dropped whole.
    dropped_days: tuple[str, ...] = ()
    #: ``stream/YYYY-MM-DD`` of days another stack keeps, from which a stack's rows went.
    trimmed_days: tuple[str, ...] = ()
    #: Raw days past retention left for a later run: rows for them may still be
    #: waiting in the spool (the loader is behind).
    deferred_days: int = 0
    #: Rollup tables whose expired rows were deleted.
    expired_tables: tuple[str, ...] = ()
    #: Whether the store gave the dropped days' space back this run.
    reclaimed: bool = False
    error: str | None = None


class RetentionJob:
    def __init__(
        self,
        store: Store,
        policy: RetentionPolicy,
        *,
        clock: Clock = system_clock_ns,
        interval_s: float = 300.0,
        pending_since: Mapping[str, PendingSince] | None = None,
        list_days: DaysLister = raw_days,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.interval_s = interval_s
        self._pending = dict(pending_since or {})
        self._list_days = list_days
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Raw days already trimmed with the same cutoffs (a restart redoes them, harmlessly).
        self._trimmed: set[tuple[str, dt.date, tuple[tuple[str, int], ...]]] = set()
        self.last_run: RetentionReport | None = None
        self.runs = 0
        self.failures = 0
        self.days_dropped = 0

    # -- one run -----------------------------------------------------------------
    def loaded_through(self, stream: str, now_ns: int) -> int:
        """Every row received before this instant is loaded (``now_ns`` when the spool
        is empty)."""
        pending = self._pending.get(stream)
        since = pending() if pending is not None else None
        return now_ns if since is None else min(now_ns, since)

    def run_once(self, now_ns: int | None = None) -> RetentionReport:
        now = self.clock() if now_ns is None else now_ns
        started = time.monotonic()
        dropped: list[str] = []
        trimmed: list[str] = []
        expired: list[str] = []
        deferred = 0
        reclaimed = False
        error: str | None = None
        with self._run_lock:
            try:
                for stream in RAW_STREAMS:
                    deferred += self._raw(stream, now, dropped, trimmed)
                for expiry in ROLLUP_EXPIRY:
                    values = cutoffs(self.policy, expiry.tier, now, expiry.grain_ns)
                    self.store.apply_staged(
                        staged_cutoffs(values), [expire_rollup_sql(self.store.dialect, expiry)]
                    )
                    expired.append(expiry.table)
                if dropped or trimmed:
                    reclaimed = self.store.reclaim_space()
            except Exception as exc:  # the next run starts over from what is stored
                error = f"{type(exc).__name__}: {exc}"
                self.failures += 1
                log.error("retention_run_failed", error=error)
            self.runs += 1
            self.days_dropped += len(dropped)
            report = RetentionReport(
                started_ns=now,
                duration_s=time.monotonic() - started,
                dropped_days=tuple(dropped),
                trimmed_days=tuple(trimmed),
                deferred_days=deferred,
                expired_tables=tuple(expired),
                reclaimed=reclaimed,
                error=error,
            )
            self.last_run = report
        return report

    def _raw(self, stream: str, now: int, dropped: list[str], trimmed: list[str]) -> int:
        """Drop or trim the expired days of one raw stream; the number deferred."""
        limit = self.loaded_through(stream, now)
        by_stack = cutoffs(self.policy, "events", limit, DAY_NS)
        by_stack_now = cutoffs(self.policy, "events", now, DAY_NS)
        whole_before = min(by_stack.values())  # no stack keeps a day ending by then
        deferred_before = min(by_stack_now.values())
        days = self._list_days(self.store, stream, max(by_stack_now.values()))
        deferred = 0
        key = tuple(sorted(by_stack.items()))
        for day in days[:_MAX_DAYS_PER_RUN]:
            start = day_start_ns(day)
            if start + DAY_NS <= whole_before:
                self.store.drop_day(stream, day)
                dropped.append(f"{stream}/{day.isoformat()}")
            elif start + DAY_NS <= deferred_before:
                deferred += 1  # past retention, but the spool may still hold its rows
            elif start < max(by_stack.values()) and (stream, day, key) not in self._trimmed:
                self.store.apply_staged(
                    staged_cutoffs(by_stack), [trim_day_sql(self.store.dialect, stream, day)]
                )
                self._trimmed.add((stream, day, key))
                trimmed.append(f"{stream}/{day.isoformat()}")
        return deferred

    # -- the thread ------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="stacklens-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.run_once()
