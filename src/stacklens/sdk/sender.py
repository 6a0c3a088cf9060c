"""The background sender: one daemon thread that turns queued emits into delivered events.

Each cycle (every ``flush_interval_s``, or at once when the queue reaches a batch):

1. drain the queue: build each event, record its metrics, encode its wire line;
2. unless backing off: resend spilled segments first (oldest events, and what a
   previous run left), then post the pending batches;
3. on failure back off exponentially with jitter (at least ``Retry-After``); when the
   outage has lasted ``spill_after_s``, or pending passed ``max_pending``, or the key is
   refused, or the client is closing, move pending events to the spill on disk.

Events wait in memory a little before spilling so a short blip costs nothing (the disk
form of an event has no raw content, see :mod:`stacklens.sdk.event_builder`).
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stacklens.sdk.event_builder import EventBuilder, QueuedEvent, observe_metrics
from stacklens.sdk.transport import HttpTransport, Outcome, PostResult, backoff_delay

if TYPE_CHECKING:
    from stacklens.sdk.catalog import Metrics
    from stacklens.sdk.spill import FileTransport, SpillStore

__all__ = ["FlushMarker", "Sender", "SenderStats"]

_log = logging.getLogger("stacklens.sdk")


class FlushMarker:
    """Put in the queue by ``flush()``; set once everything before it is settled."""

    __slots__ = ("delivered", "done")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.delivered = False


@dataclass
class SenderStats:
    built: int = 0
    accepted: int = 0
    rejected: int = 0
    dropped: int = 0
    spilled: int = 0
    resent: int = 0
    failures: int = 0
    written: int = 0


class Sender:
    def __init__(
        self,
        queue: collections.deque[Any],
        builder: EventBuilder,
        *,
        transport: HttpTransport | None,
        file: FileTransport | None = None,
        spill: SpillStore | None = None,
        metrics: Metrics | None = None,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        spill_after_s: float = 5.0,
        max_pending: int = 20_000,
        base_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._queue = queue
        self._builder = builder
        self._transport = transport
        self._file = file
        self._spill = spill
        self._metrics = metrics
        self.batch_size = batch_size
        self._interval = flush_interval_s
        self._spill_after = spill_after_s
        self._max_pending = max_pending
        self._base_backoff = base_backoff_s
        self._max_backoff = max_backoff_s
        self._monotonic = monotonic
        self._rng = rng
        self._wake = threading.Event()
        self._pending: list[bytes] = []
        self._pending_events: list[dict[str, Any]] = []
        self._waiting: list[FlushMarker] = []
        self._failures = 0
        self._next_attempt = 0.0
        self._outage_since: float | None = None
        self._give_up = False
        self._closing = False
        self._stop = False
        self.fatal = False
        self.stats = SenderStats()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()

    # -- control (any thread) -------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="stacklens-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before now is delivered (``True``), or settled
        on disk (``False``: hub down, key refused, or ``timeout`` passed)."""
        marker = FlushMarker()
        self._queue.append(marker)
        self._wake.set()
        if marker.done.wait(timeout):
            return marker.delivered
        self._give_up = True
        self._wake.set()
        marker.done.wait(min(5.0, max(timeout, 0.5)))
        return False

    def close(self, timeout: float) -> bool:
        """Flush (spilling at once if the hub is down), then stop the thread."""
        self._closing = True
        delivered = self.flush(timeout)
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, timeout))
            if self._thread.is_alive():
                # Stuck in a post: take what is in memory to disk. Taking (not copying)
                # the pending lists hands them over: when the post fails, the sender
                # finds nothing left to spill a second time; when it succeeds, the hub
                # drops the disk copy by event_id. Queued items are taken with popleft,
                # so the sender cannot build them a second time (under another id).
                events, self._pending_events, self._pending = self._pending_events, [], []
                while self._queue:
                    item = self._queue.popleft()
                    if not isinstance(item, FlushMarker):
                        event = self.build(item)
                        if event is not None:
                            events.append(event)
                self.spill_items(events)
        if self._spill is not None:
            self._spill.seal()
        if self._file is not None:
            self._file.close()
        if self._transport is not None:
            self._transport.close()
        return delivered

    def spill_items(self, events: list[dict[str, Any]]) -> None:
        """Write events to disk from any thread (overflow, close)."""
        lines = [self._builder.disk_line(event) for event in events]
        if self._file is not None:
            self._file.write(lines)
            self.stats.written += len(lines)
        elif self._spill is not None:
            self.stats.spilled += self._spill.append(lines, sync=False)
        else:
            self.stats.dropped += len(lines)

    def build(self, item: QueuedEvent) -> dict[str, Any] | None:
        try:
            event = self._builder.build(item)
            if event is not None and self._metrics is not None:
                observe_metrics(self._metrics, event)
        except Exception as exc:  # one odd event must not stop the others
            self._warn_once("build", "stacklens: dropping an event that cannot be built: %s", exc)
            event = None
        if event is None:
            self.stats.dropped += 1
        else:
            self.stats.built += 1
        return event

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            self._wake.wait(self._wait_s())
            self._wake.clear()
            try:
                self._cycle()
            except Exception as exc:  # the sender must outlive any bug or disk error
                self._warn_once("cycle", "stacklens: sender cycle failed: %r", exc)
            if self._stop and not self._queue:
                return

    def _wait_s(self) -> float:
        if self._failures and not self._closing:
            return max(0.0, min(self._interval * 5, self._next_attempt - self._monotonic()))
        return self._interval

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            _log.warning(message, *args)

    def _drain(self) -> None:
        queue = self._queue
        file_lines: list[bytes] = []
        while queue:
            item = queue.popleft()
            if isinstance(item, FlushMarker):
                self._waiting.append(item)
                continue
            event = self.build(item)
            if event is None:
                continue
            try:
                if self._file is not None:
                    file_lines.append(self._builder.disk_line(event))
                else:
                    self._pending.append(self._builder.wire_line(event))
                    self._pending_events.append(event)
            except Exception as exc:
                self.stats.dropped += 1
                self._warn_once("encode", "stacklens: dropping an unencodable event: %s", exc)
        if file_lines and self._file is not None:
            self._file.write(file_lines)
            self.stats.written += len(file_lines)

    def _cycle(self) -> None:
        self._drain()
        if self._file is None and self._transport is not None:
            self._deliver()
        self._settle_flushes()

    def _deliver(self) -> None:
        now = self._monotonic()
        has_spill = self._spill is not None and self._spill.pending()
        due = now >= self._next_attempt or (self._closing and not self._failures)
        if not self.fatal and due and (self._pending or has_spill):
            result = self._send_spilled() if has_spill else PostResult(Outcome.OK)
            if result.outcome is Outcome.OK:
                result = self._send_pending()
            if result.outcome is Outcome.OK:
                self._failures = 0
                self._outage_since = None
                self._next_attempt = 0.0
            elif result.outcome is Outcome.FATAL:
                self.fatal = True
            else:
                self._failures += 1
                self.stats.failures += 1
                if self._outage_since is None:
                    self._outage_since = now
                    _log.info("stacklens: hub unreachable (%s); retrying", result.error)
                self._next_attempt = now + backoff_delay(
                    self._failures,
                    base=self._base_backoff,
                    cap=self._max_backoff,
                    retry_after=result.retry_after,
                    rng=self._rng,
                )
        outage_long = (
            self._outage_since is not None and now - self._outage_since >= self._spill_after
        )
        if self._pending and (
            self.fatal
            or self._give_up
            or outage_long
            or len(self._pending) >= self._max_pending
            or (self._closing and self._failures)
        ):
            self._spill_pending()

    def _account(self, result: PostResult) -> None:
        self.stats.accepted += result.accepted
        self.stats.rejected += result.rejected
        self.stats.dropped += result.dropped

    def _send_spilled(self) -> PostResult:
        assert self._spill is not None
        assert self._transport is not None
        self._spill.seal()
        for path in self._spill.segments():
            with self._spill.claim(path) as lines:
                if lines is None:
                    continue  # another process of this stack is resending it
                for start in range(0, len(lines), self.batch_size):
                    result = self._transport.post(lines[start : start + self.batch_size])
                    self._account(result)
                    if result.outcome is not Outcome.OK:
                        return result  # the segment stays; resent whole next time
                self._spill.delete(path)
                self.stats.resent += len(lines)
        return PostResult(Outcome.OK)

    def _send_pending(self) -> PostResult:
        assert self._transport is not None
        while self._pending:
            batch = self._pending[: self.batch_size]
            result = self._transport.post(batch)
            self._account(result)
            taken = len(batch) if result.outcome is Outcome.OK else result.done
            del self._pending[:taken]
            del self._pending_events[:taken]
            if result.outcome is not Outcome.OK:
                return result
        return PostResult(Outcome.OK)

    def _spill_pending(self) -> None:
        events, self._pending_events, self._pending = self._pending_events, [], []
        self.spill_items(events)

    def _settle_flushes(self) -> None:
        if not self._waiting:
            return
        if self._file is not None or self._transport is None:
            delivered, settled = True, True
        else:
            delivered = not self._pending and not (self._spill and self._spill.pending())
            settled = delivered or (
                not self._pending and (self.fatal or self._closing or self._give_up)
            )
        if settled:
            self._give_up = False
            for marker in self._waiting:
                marker.delivered = delivered
                marker.done.set()
            self._waiting.clear()
