"""Local JSONL on disk: the spill (outbox) that carries events across an outage and a
restart, and the file transport of the sidecar route (``stacklens send --follow``).

Spill layout, in ``STACKLENS_SPOOL_DIR`` (default ``~/.cache/stacklens/<stack>/``)::

    01J...-4242.part    being written by process 4242 (flock held while open)
    01J...-4242.jsonl   sealed: ready to resend

A segment is deleted only after the hub acknowledged every line of it; a crash between
the acknowledgement and the delete resends lines the hub already holds, and the hub
drops them by ``event_id`` (same id, same timestamp). Processes sharing the directory
(workers of one service) coordinate with ``flock``: a ``.part`` whose writer died is
adopted, and a sealed segment is resent by one process at a time. Lines hold the *disk*
form of an event (see :mod:`stacklens.sdk.event_builder`): no secret, no raw content.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Final

from stacklens.ids import new_ulid

try:  # POSIX; elsewhere a single process per spool directory is assumed
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["FileTransport", "SpillStore", "default_spool_dir"]

_log = logging.getLogger("stacklens.sdk")
_PART: Final = ".part"
_SEALED: Final = ".jsonl"


def default_spool_dir(stack_name: str | None) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stacklens" / (stack_name or "default")


def _try_lock(handle: IO[bytes]) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class SpillStore:
    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 512 * 1024 * 1024,
        segment_bytes: int = 8 * 1024 * 1024,
        new_id: Callable[[], str] = new_ulid,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._new_id = new_id
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._handle: IO[bytes] | None = None
        self._part: Path | None = None
        self._part_size = 0
        self._bytes = sum(self._size(p) for p in self._files())
        self.dropped = 0
        self.written = 0

    @staticmethod
    def _size(path: Path) -> int:
        try:
            return path.stat().st_size
        except OSError:
            return 0

    def _files(self) -> list[Path]:
        try:
            return [p for p in self.directory.iterdir() if p.suffix in (_PART, _SEALED)]
        except FileNotFoundError:
            return []

    # -- writing ------------------------------------------------------------------------
    def append(self, lines: Sequence[bytes], *, sync: bool = True) -> int:
        """Append lines (no newline) to this process's segment; returns lines written.

        Past ``max_bytes`` the lines are dropped (counted, warned once): a bounded disk
        beats a full one when the hub stays away for days.
        """
        if not lines:
            return 0
        payload = b"".join(line + b"\n" for line in lines)
        with self._lock:
            if self._bytes + len(payload) > self.max_bytes:
                if not self.dropped:
                    _log.warning("stacklens: spool %s is full; dropping events", self.directory)
                self.dropped += len(lines)
                return 0
            if self._handle is None:
                self._part = self.directory / f"{self._new_id()}-{os.getpid()}{_PART}"
                self._handle = self._part.open("ab")
                _try_lock(self._handle)
                self._part_size = 0
            self._handle.write(payload)
            self._handle.flush()
            if sync:
                os.fsync(self._handle.fileno())
            self._part_size += len(payload)
            self._bytes += len(payload)
            self.written += len(lines)
            if self._part_size >= self.segment_bytes:
                self._seal_locked()
            return len(lines)

    def seal(self) -> None:
        """Close this process's segment so it can be resent."""
        with self._lock:
            self._seal_locked()

    def _seal_locked(self) -> None:
        if self._handle is None or self._part is None:
            return
        self._handle.flush()
        os.fsync(self._handle.fileno())
        os.replace(self._part, self._part.with_suffix(_SEALED))
        self._handle.close()  # releases the flock
        self._handle = None
        self._part = None

    close = seal

    # -- resending ------------------------------------------------------------------------
    def segments(self) -> list[Path]:
        """Sealed segments, oldest first; ``.part`` files of dead writers are adopted."""
        found: list[Path] = []
        for path in self._files():
            if path.suffix == _SEALED:
                found.append(path)
            elif path != self._part:
                with contextlib.suppress(OSError), path.open("rb") as handle:
                    if _try_lock(handle):  # nobody writes it any more
                        sealed = path.with_suffix(_SEALED)
                        os.replace(path, sealed)
                        found.append(sealed)
        return sorted(found)

    def pending(self) -> bool:
        """Whether anything waits to be resent (sealed or being written here)."""
        with self._lock:
            if self._part is not None:
                return True
        return any(True for _ in self._files())

    @contextlib.contextmanager
    def claim(self, path: Path) -> Iterator[list[bytes] | None]:
        """The complete lines of ``path`` while holding its lock; ``None`` if another
        process holds it or already deleted it."""
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            yield None
            return
        with handle:
            if not _try_lock(handle) or os.fstat(handle.fileno()).st_nlink == 0:
                yield None
                return
            data = handle.read()
            # A crash mid-write leaves a partial last line: it was never acknowledged
            # to anyone, and cannot be parsed, so it is left out.
            complete = data[: data.rfind(b"\n") + 1]
            yield [line for line in complete.split(b"\n") if line.strip()]

    def delete(self, path: Path) -> None:
        size = self._size(path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            with self._lock:
                self._bytes = max(0, self._bytes - size)


class FileTransport:
    """Appends event lines to a JSONL file that ``stacklens send --follow`` ships
    (seed 000 §3.2.2 Option B). Lines hold the disk form of events, with ``event_id``,
    so the shipper's resend after a crash is deduplicated by the hub."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._handle: Any = path.open("ab")
        self.written = 0

    def write(self, lines: Sequence[bytes]) -> None:
        if not lines:
            return
        payload = b"".join(line + b"\n" for line in lines)
        with self._lock:
            if self._handle is None:
                self._handle = self.path.open("ab")
            # One write of whole lines: the shipper never sees half an event unless
            # the process dies mid-write, and it waits for the newline then.
            self._handle.write(payload)
            self._handle.flush()
            self.written += len(lines)

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
