"""Spool segments → Arrow batches for a ClickHouse insert, and stored rows → the API.

A ClickHouse server cannot read the hub's spool files, so the adapter reads them:
every line of every segment is decoded (commit markers, which carry no row key, are
skipped), the batch is deduplicated by key (the earliest receive time wins, as
DuckDB's load does) and converted to one Arrow table for ``insert_arrow``. A line
that is not JSON, or a value that does not fit its column, refuses the whole batch
with :class:`~stacklens.store.base.RejectedDataError` (the loader isolates it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import msgspec
import pyarrow as pa

from stacklens.store.base import RejectedDataError
from stacklens.store.columns import TableSpec

__all__ = ["SpoolBatch", "arrow_schema", "read_batch", "to_arrow"]

_ARROW: Final = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    # DateTime64(6, 'UTC'): microseconds, as DuckDB's TIMESTAMP.
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
    "float_list": pa.list_(pa.float64()),
    "int_list": pa.list_(pa.int64()),
}
#: Columns a raw row cannot be stored without (they key, partition and order it).
_REQUIRED: Final = ("ts", "stack_name")


class SpoolBatch(msgspec.Struct, frozen=True):
    #: One dict per distinct key, in the order first seen.
    rows: list[dict[str, Any]]
    #: A digest of the segments' bytes: with the stream and segment numbers, what
    #: makes every insert of this batch's deterministic deduplication token.
    digest: str


def arrow_schema(table: TableSpec) -> pa.Schema:
    return pa.schema([(c.name, _ARROW[c.kind]) for c in table.columns])


def read_batch(table: TableSpec, files: Sequence[Path]) -> SpoolBatch:
    digest = hashlib.sha256()
    decoder = msgspec.json.Decoder()
    by_key: dict[str, dict[str, Any]] = {}
    for path in files:
        body = path.read_bytes()
        digest.update(hashlib.sha256(body).digest())
        for number, line in enumerate(body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = decoder.decode(line)
            except msgspec.DecodeError as exc:
                raise RejectedDataError(f"{path.name} line {number}: not JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise RejectedDataError(f"{path.name} line {number}: not a JSON object")
            key = row.get(table.key)
            if key is None:
                continue  # a commit marker
            if not isinstance(key, str):
                raise RejectedDataError(f"{path.name} line {number}: {table.key} not a string")
            row.setdefault("received_ns", 0)
            kept = by_key.get(key)
            if kept is None or (row["received_ns"] or 0) < (kept["received_ns"] or 0):
                by_key[key] = row
    return SpoolBatch(list(by_key.values()), digest.hexdigest()[:32])


def to_arrow(table: TableSpec, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """The rows as one Arrow table of the stream's columns (``RejectedDataError``: a
    value that does not fit)."""
    for row in rows:
        for name in _REQUIRED:
            if row.get(name) is None:
                raise RejectedDataError(f"a {table.name} row without {name}")
    arrays = []
    for column in table.columns:
        values = [row.get(column.name) for row in rows]
        if column.kind == "timestamp":
            values = [None if v is None else _micros(v) for v in values]
        elif column.kind.endswith("_list"):
            values = [[] if v is None else v for v in values]  # Array columns: no NULL
        elif column.kind == "json":
            values = [v if v is None or isinstance(v, str) else _json(v) for v in values]
        try:
            arrays.append(pa.array(values, type=_ARROW[column.kind]))
        except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
            raise RejectedDataError(f"{table.name}.{column.name}: {exc}") from exc
    return pa.Table.from_arrays(arrays, schema=arrow_schema(table))


def _micros(ns: Any) -> int:
    if not isinstance(ns, int) or isinstance(ns, bool):
        raise RejectedDataError(f"a timestamp that is not an integer: {ns!r}")
    return ns // 1000


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()
