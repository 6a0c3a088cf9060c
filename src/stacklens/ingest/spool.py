"""The spool: an append-only, fsynced segment log between ingest and the store.

"Acknowledged means durable": a request's rows are written, then fsynced, then the
request is answered. Concurrent requests share one fsync (group commit): a single
writer thread drains everything queued since its last fsync.

On disk a stream is a directory of numbered segments (``0000000000000001.ndjson``). A
segment is NDJSON: each batch is its rows (one JSON object a line, the format DuckDB
loads directly) followed by a commit marker ``{"_commit":seq,"n":rows,"crc":crc32}``.
After a crash, the last segment is cut back to its last valid marker: rows after it
were never acknowledged. Only the newest segment is ever written; the loader seals it
(the next write opens a new one) and loads sealed segments whole.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Final

import msgspec

from stacklens.ids import Clock, system_clock_ns

__all__ = ["Spool", "SpoolClosedError", "SpoolFullError", "fsync_dir", "recover_segment"]

_SUFFIX: Final = ".ndjson"
_MARKER_PREFIX: Final = b'{"_commit"'


class SpoolFullError(RuntimeError):
    """The backlog passed its bound; the client should retry later (503)."""


class SpoolClosedError(RuntimeError):
    """The spool is shutting down."""


class _Marker(msgspec.Struct):
    _commit: int
    n: int
    crc: int


_marker_decoder = msgspec.json.Decoder(_Marker)


def _segment_path(directory: Path, number: int) -> Path:
    return directory / f"{number:016d}{_SUFFIX}"


def recover_segment(path: Path) -> int:
    """Cut ``path`` back to the end of its last valid batch; return rows kept.

    A batch is valid when its marker parses and its row count and CRC match the bytes
    before it. Anything after the last valid marker is a write that was never
    acknowledged.
    """
    data = path.read_bytes()
    good_end = 0
    rows_kept = 0
    start = 0
    pos = 0
    rows = 0
    while pos < len(data):
        newline = data.find(b"\n", pos)
        if newline < 0:
            break  # a torn last line
        line = data[pos:newline]
        if line.startswith(_MARKER_PREFIX):
            try:
                marker = _marker_decoder.decode(line)
            except msgspec.DecodeError:
                break
            if marker.n != rows or marker.crc != zlib.crc32(data[start:pos]):
                break
            good_end = newline + 1
            rows_kept += rows
            start = good_end
            rows = 0
        else:
            rows += 1
        pos = newline + 1
    if good_end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(good_end)
            handle.flush()
            os.fsync(handle.fileno())
    return rows_kept


def fsync_dir(directory: Path) -> None:
    """fsync a directory, so a file created or renamed in it survives a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_Done = Callable[[BaseException | None], None]


class Spool:
    """One stream's segment log. Thread-safe; ``append`` is awaitable."""

    def __init__(
        self,
        directory: Path,
        *,
        max_backlog_bytes: int = 512 * 1024 * 1024,
        fsync: bool = True,
        clock: Clock = system_clock_ns,
    ) -> None:
        self.directory = directory
        self.max_backlog_bytes = max_backlog_bytes
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[bytes, int, _Done] | None] = queue.SimpleQueue()
        self._sealed: dict[int, int] = {}  # segment number -> bytes
        self._fd: int | None = None
        self._current = 0
        self._current_bytes = 0
        self._batch_seq = 0
        self._first_write_ns: dict[int, int] = {}  # segment number -> first ack time
        self._thread: threading.Thread | None = None
        self._closed = False
        self.rows_acknowledged = 0
        self.fsyncs = 0

    # -- life cycle -------------------------------------------------------------------
    def open(self) -> None:
        """Recover what a crash left and start the writer thread."""
        self.directory.mkdir(parents=True, exist_ok=True)
        numbers = sorted(
            int(p.name.removesuffix(_SUFFIX)) for p in self.directory.glob(f"*{_SUFFIX}")
        )
        # Normally only the newest segment can be torn, but one abandoned after a
        # failed write may be older: check them all (the backlog is read once).
        for number in numbers:
            recover_segment(_segment_path(self.directory, number))
        for number in numbers:
            size = _segment_path(self.directory, number).stat().st_size
            if size == 0:
                _segment_path(self.directory, number).unlink()
                continue
            self._sealed[number] = size
            self._first_write_ns[number] = self._clock()
        self._current = (numbers[-1] if numbers else 0) + 1
        self._thread = threading.Thread(target=self._run, name="stacklens-spool", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    # -- writing ----------------------------------------------------------------------
    def check_capacity(self) -> None:
        """Raise :class:`SpoolFullError` when the backlog is past its bound."""
        if self.backlog_bytes() > self.max_backlog_bytes:
            raise SpoolFullError("spool backlog is over its bound")

    async def append(self, payload: bytes, rows: int) -> None:
        """Write ``payload`` (``rows`` NDJSON lines) and return once it is durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, error)

        self._submit(payload, rows, done)
        await future

    def append_blocking(self, payload: bytes, rows: int) -> None:
        """``append`` for callers without an event loop."""
        finished = threading.Event()
        failure: list[BaseException] = []

        def done(error: BaseException | None) -> None:
            if error is not None:
                failure.append(error)
            finished.set()

        self._submit(payload, rows, done)
        finished.wait()
        if failure:
            raise failure[0]

    def _submit(self, payload: bytes, rows: int, done: _Done) -> None:
        if self._closed:
            raise SpoolClosedError("spool is closed")
        self.check_capacity()
        self._queue.put((payload, rows, done))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            items = [item]
            stop = False
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                items.append(more)
            error: BaseException | None = None
            try:
                self._write_group(items)
            except BaseException as exc:  # the callers learn of it; the thread goes on
                error = exc
            for _, _, done in items:
                done(error)
            if stop:
                return

    def _write_group(self, items: list[tuple[bytes, int, _Done]]) -> None:
        parts: list[bytes] = []
        total_rows = 0
        for payload, rows, _ in items:
            self._batch_seq += 1
            parts.append(payload)
            parts.append(
                b'{"_commit":%d,"n":%d,"crc":%d}\n' % (self._batch_seq, rows, zlib.crc32(payload))
            )
            total_rows += rows
        blob = b"".join(parts)
        with self._lock:
            if self._fd is None:
                path = _segment_path(self.directory, self._current)
                self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                if self._fsync:
                    fsync_dir(self.directory)  # the new file's name must survive a crash
            try:
                view = memoryview(blob)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
                if self._fsync:
                    os.fsync(self._fd)
                    self.fsyncs += 1
            except OSError:
                self._undo_partial_write()
                raise  # nothing in this group is acknowledged: the callers answer 503
            self._current_bytes += len(blob)
            self._first_write_ns.setdefault(self._current, self._clock())
            self.rows_acknowledged += total_rows

    def _undo_partial_write(self) -> None:
        """After a failed write or fsync (disk full, I/O error), cut the segment back to
        its last acknowledged byte, so batches acknowledged later never sit behind torn
        bytes (recovery stops at the first bad batch; the loader cannot parse a torn
        line). If even that fails, abandon the segment: it is recovered and sealed, and
        the next write opens a new one."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._current_bytes)
            if self._fsync:
                os.fsync(self._fd)
        except OSError:
            os.close(self._fd)
            self._fd = None
            path = _segment_path(self.directory, self._current)
            try:
                recover_segment(path)
                size = path.stat().st_size
            except OSError:
                size = 0  # left for the next start, which recovers every segment
            if size:
                self._sealed[self._current] = size
            else:
                self._first_write_ns.pop(self._current, None)
            self._current += 1
            self._current_bytes = 0

    # -- the loader's side -------------------------------------------------------------
    def seal(self) -> list[tuple[int, Path]]:
        """Close the segment being written (if it has data) and list every sealed
        segment not yet discarded, oldest first."""
        with self._lock:
            if self._current_bytes > 0:
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                self._sealed[self._current] = self._current_bytes
                self._current += 1
                self._current_bytes = 0
            return [(n, _segment_path(self.directory, n)) for n in sorted(self._sealed)]

    def discard_through(self, number: int) -> None:
        """Delete sealed segments up to ``number`` (they are in the store)."""
        with self._lock:
            for n in [n for n in self._sealed if n <= number]:
                _segment_path(self.directory, n).unlink(missing_ok=True)
                del self._sealed[n]
                self._first_write_ns.pop(n, None)

    def backlog_bytes(self) -> int:
        return sum(self._sealed.values()) + self._current_bytes

    def pending_since_ns(self) -> int | None:
        """When the oldest row not yet in the store was acknowledged."""
        with self._lock:
            return min(self._first_write_ns.values(), default=None)

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._closed


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
