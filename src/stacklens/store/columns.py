"""The wide ``events`` table, derived once from :class:`stacklens.schema.EventRow`.

Every backend builds its DDL and its load statement from this one list, so adding a
field to the contract adds the column everywhere.
"""

from __future__ import annotations

import types
import typing
from typing import Final, NamedTuple

import msgspec

from stacklens.schema import EventRow

__all__ = ["EVENT_COLUMNS", "Column", "ndjson_columns"]


class Column(NamedTuple):
    name: str
    #: Logical type: "string", "int", "float", "bool", "timestamp" or "json".
    kind: str


def _kind(field: msgspec.structs.FieldInfo) -> str:
    if field.name == "ts":
        return "timestamp"
    if field.name == "attributes":
        return "json"
    hint = field.type
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if isinstance(hint, types.UnionType) and args else hint
    return {str: "string", int: "int", float: "float", bool: "bool"}[base]


EVENT_COLUMNS: Final[tuple[Column, ...]] = tuple(
    Column(f.name, _kind(f)) for f in msgspec.structs.fields(EventRow)
)

_NDJSON_TYPES: Final = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "BIGINT",  # epoch ns on the wire; converted while loading
    "json": "VARCHAR",
}


def ndjson_columns() -> dict[str, str]:
    """Column → type map for reading spool segments (which hold EventRow JSON)."""
    return {c.name: _NDJSON_TYPES[c.kind] for c in EVENT_COLUMNS}
