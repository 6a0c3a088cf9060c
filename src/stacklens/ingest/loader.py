"""The loader: moves sealed spool segments into the store, in large batches.

Each cycle seals the segment being written, loads every sealed segment in one
transaction that also advances the stream's checkpoint, then deletes the segments. A
crash between the commit and the delete leaves segments the checkpoint already
covers; :meth:`Loader.recover` discards them at start, so a replay never duplicates.

A load the store refuses because of the rows (:class:`RejectedDataError`) cannot stall
the stream: the loader loads the segments one by one, bisects a refused segment down to
the rows at fault, moves those to the quarantine and goes on. Sub-batches are loaded in
their own transactions and the segment's checkpoint is written after the last: a crash
in between replays the segment, and the rows already stored are dropped by the store's
key deduplication (the replayed rows carry the same ``received_ns``, so they are always
inside the dedup window). Any other failure (disk, a store that is down) is retried
next cycle, whole.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import structlog

from stacklens.ids import Clock, system_clock_ns
from stacklens.ingest.quarantine import Quarantine
from stacklens.ingest.spool import Spool
from stacklens.store.base import LoadResult, RejectedDataError, Store

__all__ = ["Loader", "RetryOutcome", "retry_entry", "segment_rows"]

log = structlog.get_logger(__name__)

_MARKER_PREFIX = b'{"_commit"'


def segment_rows(data: bytes) -> list[tuple[int, bytes]]:
    """A sealed segment's rows as (line number, line), commit markers left out."""
    return [
        (number, line)
        for number, line in enumerate(data.split(b"\n"))
        if line.strip() and not line.startswith(_MARKER_PREFIX)
    ]


class RetryOutcome(NamedTuple):
    loaded: bool
    #: Rows inserted (0 when they were already stored, or when the retry failed).
    inserted: int
    error: str | None


def retry_entry(store: Store, quarantine: Quarantine, entry_id: str) -> RetryOutcome:
    """Load a quarantined entry's rows again; the entry leaves the quarantine once they
    are stored (a row already stored is deduplicated, never doubled). A refusal is
    recorded on the entry; any other failure propagates. KeyError: no such entry."""
    if quarantine.get(entry_id) is None:
        raise KeyError(entry_id)
    try:
        result = store.load_files(quarantine.stream, [quarantine.rows_path(entry_id)])
    except RejectedDataError as exc:
        quarantine.note_failure(entry_id, str(exc))
        return RetryOutcome(False, 0, str(exc))
    quarantine.remove(entry_id)
    return RetryOutcome(True, result.inserted, None)


class Loader:
    def __init__(
        self,
        spool: Spool,
        store: Store,
        *,
        stream: str = "events",
        interval_s: float = 0.2,
        clock: Clock = system_clock_ns,
        quarantine: Quarantine | None = None,
        on_quarantine: Callable[[int], None] | None = None,
    ) -> None:
        self.spool = spool
        self.store = store
        self.stream = stream
        self.interval_s = interval_s
        self._clock = clock
        self._cycle_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rows_loaded = 0
        self.rows_duplicate = 0
        self.last_error: str | None = None
        self.last_success_ns: int | None = None
        #: Without a quarantine a refused load is retried (the behaviour before it).
        self.quarantine = quarantine
        self._on_quarantine = on_quarantine
        self.rows_quarantined = 0

    def recover(self) -> None:
        """Drop segments the store already holds (a crash after commit, before delete)."""
        self.spool.discard_through(self.store.checkpoint(self.stream))

    def run_once(self) -> LoadResult:
        """One cycle: seal, load, checkpoint, discard. Safe to call from any thread."""
        with self._cycle_lock:
            segments = self.spool.seal()
            if not segments:
                self.last_success_ns = self._clock()
                return LoadResult(read=0, inserted=0)
            try:
                result = self.store.load_segments(self.stream, segments)
            except RejectedDataError:
                if self.quarantine is None:
                    raise
                result = self._isolate(segments)
            self.spool.discard_through(segments[-1][0])
            self.rows_loaded += result.inserted
            self.rows_duplicate += result.read - result.inserted
            self.last_success_ns = self._clock()
            self.last_error = None
            return result

    # -- isolation -------------------------------------------------------------------
    def _isolate(self, segments: list[tuple[int, Path]]) -> LoadResult:
        """Load segment by segment; bisect the ones refused."""
        read = inserted = 0
        for number, path in segments:
            try:
                result = self.store.load_segments(self.stream, [(number, path)])
            except RejectedDataError as exc:
                result = self._bisect_segment(number, path, str(exc))
            self.spool.discard_through(number)
            read += result.read
            inserted += result.inserted
        return LoadResult(read=read, inserted=inserted)

    def _bisect_segment(self, number: int, path: Path, error: str) -> LoadResult:
        assert self.quarantine is not None
        rows = segment_rows(path.read_bytes())
        work = self.quarantine.work_dir / f"{self.stream}-{number:016d}.ndjson"
        try:
            result = self._split(number, rows, error, work)
        finally:
            work.unlink(missing_ok=True)
        # Every row is now stored or quarantined: only then is the segment done.
        self.store.load_files(self.stream, [], checkpoint=number)
        return result

    def _split(
        self, number: int, rows: list[tuple[int, bytes]], error: str, work: Path
    ) -> LoadResult:
        """``rows`` failed together with ``error``: load each half on its own, in
        order, recursing into a half that fails, down to single rows."""
        assert self.quarantine is not None
        if len(rows) <= 1:
            if rows:
                line, row = rows[0]
                entry = self.quarantine.put(number, line, [row], error)
                self.rows_quarantined += 1
                if self._on_quarantine is not None:
                    self._on_quarantine(1)
                log.warning(
                    "loader_row_quarantined", stream=self.stream, entry=entry.id, error=error
                )
            return LoadResult(read=0, inserted=0)
        middle = len(rows) // 2
        read = inserted = 0
        for half in (rows[:middle], rows[middle:]):
            work.write_bytes(b"".join(row + b"\n" for _, row in half))
            try:
                result = self.store.load_files(self.stream, [work])
            except RejectedDataError as exc:
                result = self._split(number, half, str(exc), work)
            read += result.read
            inserted += result.inserted
        return LoadResult(read=read, inserted=inserted)

    def retry_quarantined(self, entry_id: str) -> RetryOutcome:
        """Load one quarantined entry again (serialised with the load cycles)."""
        if self.quarantine is None:
            raise KeyError(entry_id)
        with self._cycle_lock:
            outcome = retry_entry(self.store, self.quarantine, entry_id)
        self.rows_loaded += outcome.inserted
        return outcome

    def lag_s(self) -> float:
        """Age of the oldest acknowledged row not yet queryable (0 when caught up)."""
        since = self.spool.pending_since_ns()
        return 0.0 if since is None else max(0.0, (self._clock() - since) / 1e9)

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._run, name="stacklens-loader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last cycle, so a clean shutdown leaves no backlog."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._safe_cycle()

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._safe_cycle()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def _safe_cycle(self) -> None:
        try:
            self.run_once()
        except Exception as exc:  # keep the rows in the spool and try again next cycle
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("loader_cycle_failed", stream=self.stream, error=self.last_error)
