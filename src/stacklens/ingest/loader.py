"""The loader: moves sealed spool segments into the store, in large batches.

Each cycle seals the segment being written, loads every sealed segment in one
transaction that also advances the stream's checkpoint, then deletes the segments. A
crash between the commit and the delete leaves segments the checkpoint already
covers; :meth:`Loader.recover` discards them at start, so a replay never duplicates.
"""

from __future__ import annotations

import threading
import time

import structlog

from stacklens.ids import Clock, system_clock_ns
from stacklens.ingest.spool import Spool
from stacklens.store.base import LoadResult, Store

__all__ = ["Loader"]

log = structlog.get_logger(__name__)


class Loader:
    def __init__(
        self,
        spool: Spool,
        store: Store,
        *,
        stream: str = "events",
        interval_s: float = 0.2,
        clock: Clock = system_clock_ns,
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
            result = self.store.load_segments(self.stream, segments)
            self.spool.discard_through(segments[-1][0])
            self.rows_loaded += result.inserted
            self.rows_duplicate += result.read - result.inserted
            self.last_success_ns = self._clock()
            self.last_error = None
            return result

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
