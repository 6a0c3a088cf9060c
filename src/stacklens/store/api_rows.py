"""Stored rows as the API shows them, the same from every store adapter: RFC 3339
times, attributes as an object, empty fields left out."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import msgspec

__all__ = ["event_out", "format_ns"]

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def format_ns(ns: int) -> str:
    """Epoch nanoseconds → RFC 3339 UTC text with microseconds (integer arithmetic:
    no float rounding of the microseconds)."""
    moment = _EPOCH + dt.timedelta(microseconds=ns // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_out(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the API shows it: RFC 3339 time, attributes as an object,
    empty fields left out."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None:
            continue
        if key == "ts":
            out["timestamp"] = format_ns(value)
            out["timestamp_ns"] = value
        elif key == "start_ts":
            out["start_timestamp"] = format_ns(value)
        elif key == "received_ns":
            continue
        elif key == "attributes":
            attributes = msgspec.json.decode(value) if isinstance(value, str) else value
            if attributes:
                out["attributes"] = attributes
        else:
            out[key] = value
    return out
