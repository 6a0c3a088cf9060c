"""The quarantine: acknowledged rows the store refused, kept on disk with the reason.

When a load fails because of the rows themselves (see
:class:`stacklens.store.base.RejectedDataError`), the loader bisects the failing spool
segment down to the rows at fault and moves each here, so one bad row never stalls the
loading of everything acknowledged after it. Nothing is lost: an entry stays
inspectable (``stacklens quarantine list``) and re-loadable (``... retry``).

On disk, per stream: ``<dir>/<stream>/<id>.ndjson`` (the rows exactly as the spool held
them) and ``<id>.json`` (the record: segment, line, error, attempts). An id is the
segment number and the row's line in it, so quarantining the same row again after a
crash (before the segment's checkpoint was written) overwrites the same entry rather
than duplicating it. The record is written last: an entry exists once its record does.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import msgspec
from prometheus_client import CollectorRegistry, Counter

from stacklens.ids import Clock, system_clock_ns
from stacklens.ingest.spool import fsync_dir

__all__ = ["ENTRY_ID_RE", "Quarantine", "QuarantineEntry", "quarantine_counter"]

#: ``<segment>-<line>``: anything else is refused before it reaches a path.
ENTRY_ID_RE: Final = re.compile(r"[0-9]{16}-[0-9]{6,}")


def quarantine_counter(registry: CollectorRegistry) -> Counter:
    """``stacklens_quarantined_events_total{stream}``: rows moved to the quarantine."""
    return Counter(
        "stacklens_quarantined_events",
        "Acknowledged rows the store refused, moved to the quarantine, by stream.",
        ["stream"],
        registry=registry,
    )


class QuarantineEntry(msgspec.Struct, kw_only=True):
    id: str
    stream: str
    segment: int
    line: int
    rows: int
    error: str
    quarantined_ns: int
    attempts: int = 0
    last_attempt_ns: int | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(QuarantineEntry)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class Quarantine:
    """One stream's quarantine directory. Thread-safe."""

    def __init__(self, root: Path, stream: str, *, clock: Clock = system_clock_ns) -> None:
        self.stream = stream
        self.directory = root / stream
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def work_dir(self) -> Path:
        """Scratch space for the loader's bisection (sub-batches as NDJSON files)."""
        path = self.directory / ".work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def put(self, segment: int, line: int, rows: Sequence[bytes], error: str) -> QuarantineEntry:
        """Store ``rows`` (NDJSON lines without newline) durably, with the reason."""
        entry = QuarantineEntry(
            id=f"{segment:016d}-{line:06d}",
            stream=self.stream,
            segment=segment,
            line=line,
            rows=len(rows),
            error=error[:2000],
            quarantined_ns=self._clock(),
        )
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_durably(self.rows_path(entry.id), b"".join(r + b"\n" for r in rows))
            _write_durably(self._record_path(entry.id), _encoder.encode(entry))
            fsync_dir(self.directory)
        return entry

    def rows_path(self, entry_id: str) -> Path:
        return self.directory / f"{entry_id}.ndjson"

    def _record_path(self, entry_id: str) -> Path:
        return self.directory / f"{entry_id}.json"

    def get(self, entry_id: str) -> QuarantineEntry | None:
        if not ENTRY_ID_RE.fullmatch(entry_id):
            return None
        try:
            return _decoder.decode(self._record_path(entry_id).read_bytes())
        except (FileNotFoundError, msgspec.DecodeError):
            return None

    def entries(self) -> list[QuarantineEntry]:
        """Every entry, oldest segment first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            entry = self.get(path.name.removesuffix(".json"))
            if entry is not None:
                found.append(entry)
        return found

    def rows(self, entry_id: str) -> list[bytes]:
        return [line for line in self.rows_path(entry_id).read_bytes().split(b"\n") if line]

    def count_rows(self) -> int:
        return sum(entry.rows for entry in self.entries())

    def note_failure(self, entry_id: str, error: str) -> QuarantineEntry | None:
        """Record a failed retry (the entry stays)."""
        with self._lock:
            entry = self.get(entry_id)
            if entry is None:
                return None
            entry.attempts += 1
            entry.last_attempt_ns = self._clock()
            entry.error = error[:2000]
            _write_durably(self._record_path(entry_id), _encoder.encode(entry))
            return entry

    def remove(self, entry_id: str) -> None:
        """Drop an entry whose rows are now in the store (record first: an entry
        without its record no longer exists)."""
        with self._lock:
            self._record_path(entry_id).unlink(missing_ok=True)
            self.rows_path(entry_id).unlink(missing_ok=True)
            fsync_dir(self.directory)
