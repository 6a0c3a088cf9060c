"""Ship a JSONL event file to the hub (write locally, ship later), optionally tailing it.

A positions file records, per file identity (device + inode), the byte offset up to
which lines are acknowledged; it is written only after the hub answered 200, so a
restart neither skips nor repeats a line. Lines without an ``event_id`` get one derived
from the file identity and offset, so a batch resent after a crash between the
acknowledgement and the positions write is deduplicated by the hub.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import msgspec

__all__ = ["FileShipper", "Positions", "ShipError"]


class ShipError(RuntimeError):
    """The hub refused for good (bad key, forbidden stack)."""


class Positions(msgspec.Struct):
    device: int = 0
    inode: int = 0
    offset: int = 0
    #: Lines consumed before ``offset``, so refusals name the file's line numbers.
    line: int = 0


_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class FileShipper:
    def __init__(
        self,
        path: Path,
        *,
        url: str,
        api_key: str,
        positions_path: Path | None = None,
        batch_lines: int = 1000,
        batch_bytes: int = 4 * 1024 * 1024,
        client: httpx.Client | None = None,
        progress: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int | None = None,
    ) -> None:
        self.path = path
        self.url = url.rstrip("/") + "/v1/events"
        #: Posts of one batch before giving up (``None``: retry for ever, as ``--follow``).
        self.max_attempts = max_attempts
        self._held_back_at: int | None = None
        self.positions_path = positions_path or path.with_name(path.name + ".positions")
        self.batch_lines = batch_lines
        self.batch_bytes = batch_bytes
        self._client = client or httpx.Client(timeout=30.0)
        self._headers = {
            "X-API-Key": api_key,
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
        }
        self._progress = progress or (lambda _: None)
        self._sleep = sleep
        self.sent = 0
        self.rejected = 0

    # -- positions ----------------------------------------------------------------------
    def load_positions(self) -> Positions:
        try:
            return msgspec.json.decode(self.positions_path.read_bytes(), type=Positions)
        except (FileNotFoundError, msgspec.DecodeError):
            return Positions()

    def _save_positions(self, positions: Positions) -> None:
        tmp = self.positions_path.with_name(self.positions_path.name + ".tmp")
        with tmp.open("wb") as handle:
            handle.write(_encoder.encode(positions))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.positions_path)

    # -- shipping ---------------------------------------------------------------------
    def ship_available(self) -> int:
        """Send every complete line past the saved offset; return lines sent."""
        stat = self.path.stat()
        positions = self.load_positions()
        if (positions.device, positions.inode) != (
            stat.st_dev,
            stat.st_ino,
        ) or positions.offset > stat.st_size:
            positions = Positions(stat.st_dev, stat.st_ino, 0)  # a new or truncated file
        shipped = 0
        with self.path.open("rb") as handle:
            handle.seek(positions.offset)
            while True:
                batch, line_numbers, consumed, lines_read = self._read_batch(handle, positions)
                if consumed == 0:
                    break
                if batch:
                    self._post(batch, line_numbers)
                    shipped += len(batch)
                positions.offset += consumed
                positions.line += lines_read
                self._save_positions(positions)
                self._progress(f"sent {self.sent} events ({self.rejected} rejected)")
            self._note_partial_line(handle, positions)
        return shipped

    def _note_partial_line(self, handle: object, positions: Positions) -> None:
        """Say (once per place) that an unfinished last line is held back."""
        rest = handle.read(1)  # type: ignore[attr-defined]
        if rest and self._held_back_at != positions.offset:
            self._held_back_at = positions.offset
            self._progress(
                f"line {positions.line + 1} has no newline yet: held back until it is complete"
            )

    def follow(self, *, poll_s: float = 0.5, stop: Callable[[], bool] = lambda: False) -> None:
        """Tail the file until ``stop()`` says so, surviving rotation and truncation."""
        while not stop():
            with contextlib.suppress(FileNotFoundError):  # rotated away; a new file comes
                self.ship_available()
            self._sleep(poll_s)

    def _read_batch(
        self, handle: object, positions: Positions
    ) -> tuple[list[bytes], list[int], int, int]:
        """Up to a batch of complete lines: (lines, their 1-based line numbers in the
        file, bytes consumed, lines consumed including blank ones)."""
        lines: list[bytes] = []
        numbers: list[int] = []
        consumed = 0
        read = 0
        size = 0
        offset = positions.offset
        read_line = handle.readline  # type: ignore[attr-defined]
        while len(lines) < self.batch_lines and size < self.batch_bytes:
            line: bytes = read_line()
            if not line.endswith(b"\n"):
                # A line still being written: leave it for the next pass.
                handle.seek(offset + consumed)  # type: ignore[attr-defined]
                break
            line_offset = offset + consumed
            consumed += len(line)
            read += 1
            if line.strip():
                lines.append(self._with_id(line.strip(), positions, line_offset))
                numbers.append(positions.line + read)
                size += len(line)
        return lines, numbers, consumed, read

    @staticmethod
    def _with_id(line: bytes, positions: Positions, offset: int) -> bytes:
        try:
            value = _decoder.decode(line)
        except msgspec.DecodeError:
            return line  # the hub reports it as rejected, with its index
        if isinstance(value, dict) and not (value.get("event_id") or value.get("eventId")):
            digest = hashlib.sha256(
                f"{positions.device}:{positions.inode}:{offset}".encode()
            ).hexdigest()
            value["event_id"] = f"file-{digest[:32]}"
            return _encoder.encode(value)
        return line

    def _post(self, batch: list[bytes], line_numbers: list[int]) -> None:
        body = gzip.compress(b"\n".join(batch) + b"\n", compresslevel=5)
        delay = 0.5
        attempts = 0
        while True:
            attempts += 1
            try:
                response = self._client.post(self.url, content=body, headers=self._headers)
            except httpx.TransportError as exc:
                problem = f"the hub at {self.url} is unreachable ({type(exc).__name__}: {exc})"
            else:
                if response.status_code == 200:
                    answer = response.json()
                    self.sent += int(answer.get("accepted", 0))
                    self.rejected += len(answer.get("rejected", []))
                    for item in answer.get("rejected", [])[:5]:
                        self._progress(f"{self._where(item, line_numbers)}: {item['error']}")
                    return
                if response.status_code == 400:
                    # Nothing in the batch is valid: report it and move on (resending
                    # the same lines would never succeed).
                    self.rejected += len(batch)
                    self._report_refused(response, line_numbers)
                    return
                if response.status_code in (401, 403, 413, 415):
                    raise ShipError(f"hub answered {response.status_code}: {response.text[:300]}")
                retry_after = response.headers.get("retry-after", "")
                if retry_after.isdigit():
                    delay = max(delay, float(retry_after))
                problem = f"the hub at {self.url} answered {response.status_code}"
            if self.max_attempts is not None and attempts >= self.max_attempts:
                raise ShipError(f"gave up after {attempts} attempts: {problem}")
            self._progress(f"{problem}; retrying in {delay:.1f}s")
            self._sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 30.0)

    def _report_refused(self, response: httpx.Response, line_numbers: list[int]) -> None:
        try:
            items = response.json().get("rejected") or []
        except ValueError:
            items = []
        if not items:
            first, last = line_numbers[0], line_numbers[-1]
            self._progress(f"lines {first}-{last} refused: {response.text[:300]}")
        for item in items[:5]:
            self._progress(f"{self._where(item, line_numbers)}: {item.get('error')}")

    @staticmethod
    def _where(item: dict[str, object], line_numbers: list[int]) -> str:
        index = item.get("index")
        if isinstance(index, int) and 0 <= index < len(line_numbers):
            return f"line {line_numbers[index]}"
        return f"event {index}"
