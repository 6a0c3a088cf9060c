"""Rows that pass no door: written straight into a spool (the spool API), to prove
that the loader isolates what the store refuses instead of stalling on it."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import msgspec

from stacklens.ingest.spool import recover_segment

__all__ = ["ordinary_rows", "poison_rows", "write_to_spool"]

_NOW_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00Z


def ordinary_rows(stack: str, count: int, *, prefix: str, ts_ns: int = _NOW_NS) -> list[bytes]:
    return [
        msgspec.json.encode(
            {
                "event_id": f"{prefix}-{i:05d}",
                "ts": ts_ns + i,
                "stack_name": stack,
                "event_type": "llm_call",
                "model": "gpt-4o",
                "tokens_in": 10,
                "cost_usd": 0.01,
                "received_ns": ts_ns,
            }
        )
        for i in range(count)
    ]


def poison_rows(stack: str = "poison", ts_ns: int = _NOW_NS) -> dict[str, list[bytes]]:
    """Each value is rows the store refuses (alone or together), by name."""

    def row(event_id: str, **fields: Any) -> bytes:
        base: dict[str, Any] = {
            "event_id": event_id,
            "ts": ts_ns,
            "stack_name": stack,
            "event_type": "llm_call",
            "received_ns": ts_ns,
        }
        return msgspec.json.encode({**base, **fields})

    return {
        # ts past BIGINT: the NDJSON reader cannot cast it.
        "ts_2_63": [row("p-ts-big", ts=2**63)],
        # 0001-01-01 in ns: no microsecond timestamp can hold it.
        "ts_year_1": [row("p-ts-year1", ts=-62_135_596_800 * 10**9)],
        # Each fits; their sum in the hourly rollup does not.
        "tokens_sum": [
            row("p-tok-1", tokens_in=2**63 - 1, model="m"),
            row("p-tok-2", tokens_in=2**63 - 1, model="m"),
        ],
        # Not JSON at all.
        "broken_json": [b'{"event_id": "p-broken", "ts": '],
        # A string where the column is a number.
        "type_mismatch": [row("p-type", tokens_in="many")],
    }


def write_to_spool(directory: Path, lines: list[bytes], *, after_segment: int = 0) -> Path:
    """``lines`` as one acknowledged batch (rows plus the spool's commit marker) in a
    new segment numbered past ``after_segment`` (the store's checkpoint: a hub discards
    segments at or below it as loaded). No hub may hold the spool meanwhile. The spool
    itself checks the batch when it opens (``recover_segment``)."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = [int(p.name.removesuffix(".ndjson")) for p in directory.glob("*.ndjson")]
    number = max([after_segment, *existing]) + 1
    payload = b"".join(line + b"\n" for line in lines)
    marker = b'{"_commit":1,"n":%d,"crc":%d}\n' % (len(lines), zlib.crc32(payload))
    path = directory / f"{number:016d}.ndjson"
    path.write_bytes(payload + marker)
    if recover_segment(path) != len(lines):
        raise AssertionError("the spool would not keep this batch")
    return path
