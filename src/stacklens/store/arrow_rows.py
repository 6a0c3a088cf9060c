"""Row structs → the Arrow batch :meth:`DuckDBStore.load_arrow` takes.

The columns are the stream's row-struct fields in their order, with the values the
spool's NDJSON holds: timestamps as epoch-ns ``int64`` (the load converts them as it
converts a segment's), the attributes as JSON text. Built once per batch by whoever
holds rows in memory (a benchmark, a test; a columnar spool later), so the store reads
typed columns instead of parsing NDJSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec
import pyarrow as pa

from stacklens.store.columns import TableSpec

__all__ = ["arrow_schema", "rows_arrow"]

_TYPES: Final = {
    "string": pa.string(),
    "json": pa.string(),
    "int": pa.int64(),
    "timestamp": pa.int64(),  # epoch ns, as in a spool segment
    "float": pa.float64(),
    "bool": pa.bool_(),
    "float_list": pa.list_(pa.float64()),
    "int_list": pa.list_(pa.int64()),
}


def arrow_schema(table: TableSpec) -> Any:
    """The Arrow schema of ``table``'s rows as :func:`rows_arrow` builds them."""
    return pa.schema([(c.name, _TYPES[c.kind]) for c in table.columns])


def rows_arrow(table: TableSpec, rows: Sequence[msgspec.Struct]) -> Any:
    """``rows`` (structs of ``table``'s row type) as one Arrow table."""
    arrays = [
        pa.array([getattr(row, c.name) for row in rows], type=_TYPES[c.kind]) for c in table.columns
    ]
    return pa.Table.from_arrays(arrays, schema=arrow_schema(table))
