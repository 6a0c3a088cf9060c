"""The stored tables, derived once from the row structs in :mod:`stacklens.schema`.

Every backend builds its DDL and its load statement from these specs, so adding a
field to a row struct adds the column everywhere (column kinds are the logical kinds
:meth:`stacklens.store.dialect.Dialect.column_type` spells).
"""

from __future__ import annotations

import types
import typing
from typing import Final, NamedTuple

import msgspec

from stacklens.schema import EventRow, MetricRow

__all__ = ["EVENTS", "EVENT_COLUMNS", "METRIC_POINTS", "TABLES", "Column", "TableSpec"]


class Column(NamedTuple):
    name: str
    #: Logical type: string, int, float, bool, timestamp, json, float_list or int_list.
    kind: str


class TableSpec(NamedTuple):
    name: str
    columns: tuple[Column, ...]
    #: Column whose value identifies a row across retries and replays.
    key: str


_TIMESTAMPS: Final = frozenset({"ts", "start_ts"})


def _kind(field: msgspec.structs.FieldInfo) -> str:
    if field.name in _TIMESTAMPS:
        return "timestamp"
    if field.name == "attributes":
        return "json"
    hint = field.type
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if isinstance(hint, types.UnionType) and args else hint
    if typing.get_origin(base) is list:
        return {float: "float_list", int: "int_list"}[typing.get_args(base)[0]]
    return {str: "string", int: "int", float: "float", bool: "bool"}[base]


def _columns(row_type: type[msgspec.Struct]) -> tuple[Column, ...]:
    return tuple(Column(f.name, _kind(f)) for f in msgspec.structs.fields(row_type))


EVENT_COLUMNS: Final = _columns(EventRow)
EVENTS: Final = TableSpec("events", EVENT_COLUMNS, "event_id")
METRIC_POINTS: Final = TableSpec("metric_points", _columns(MetricRow), "point_id")
#: Spool stream name → the table it loads into.
TABLES: Final = {"events": EVENTS, "metrics": METRIC_POINTS}
