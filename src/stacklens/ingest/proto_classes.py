"""Protobuf message classes made at import time from a small schema table.

Loki's push protocol and Prometheus's remote write publish no Python modules, so their
decoders declare the few messages they read as rows of a table and get real message
classes from a private descriptor pool: protobuf's C parser then does the wire format
(unknown fields, packed or not, any field order) far faster than Python could.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["OPTIONAL", "REPEATED", "Field", "FieldType", "Schema", "message_classes"]

FieldType = descriptor_pb2.FieldDescriptorProto
OPTIONAL: Final = FieldType.LABEL_OPTIONAL
REPEATED: Final = FieldType.LABEL_REPEATED

#: (field, number, type, label, message type within the package or None)
Field = tuple[str, int, int, int, str | None]
#: (message, its fields), in declaration order.
Schema = Sequence[tuple[str, Sequence[Field]]]


def message_classes(file_name: str, package: str, schema: Schema) -> dict[str, Any]:
    """Each message of ``schema`` by name, as a class of its own descriptor pool."""
    file = descriptor_pb2.FileDescriptorProto(name=file_name, package=package, syntax="proto3")
    for message_name, fields in schema:
        message = file.message_type.add(name=message_name)
        for name, number, kind, label, type_name in fields:
            field = message.field.add(name=name, number=number, type=kind, label=label)
            if type_name is not None:
                field.type_name = f".{package}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
        for name, _ in schema
    }
