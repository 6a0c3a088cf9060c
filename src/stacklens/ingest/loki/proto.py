"""Loki's push protobuf (``logproto.PushRequest``), built at import time.

Loki publishes no Python module for ``pkg/push/push.proto``, so the message classes are
made here from a ``FileDescriptorProto`` (field numbers checked against grafana/loki
``pkg/push/push.proto``)::

    PushRequest      { repeated StreamAdapter streams = 1; string format = 2; }
    StreamAdapter    { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
    EntryAdapter     { google.protobuf.Timestamp timestamp = 1; string line = 2;
                       repeated LabelPairAdapter structuredMetadata = 3;
                       repeated LabelPairAdapter parsed = 4; }
    LabelPairAdapter { string name = 1; string value = 2; }

Why a descriptor rather than a hand-written varint reader: protobuf's C parser is far
faster than Python byte twiddling and handles every wire-format corner (unknown fields,
packed/unpacked, field order). Why ``bytes`` where Loki says ``string``: the two are
identical on the wire, but protobuf's Python runtime rejects a whole message on invalid
UTF-8 in a proto3 ``string``. Loki (Go, gogoproto) never checks, so Promtail happily
ships a binary log line; with ``bytes`` one such line is decoded with replacement
characters instead of failing the whole batch. ``Timestamp`` is declared locally (same
fields as google.protobuf.Timestamp) so the private pool needs no imports.
"""

from __future__ import annotations

from typing import Any, Final

from stacklens.ingest.proto_classes import OPTIONAL as _OPTIONAL
from stacklens.ingest.proto_classes import REPEATED as _REPEATED
from stacklens.ingest.proto_classes import FieldType as _F
from stacklens.ingest.proto_classes import Schema, message_classes

__all__ = ["EntryAdapter", "LabelPairAdapter", "PushRequest", "StreamAdapter", "Timestamp"]

_PACKAGE: Final = "stacklens.loki.logproto"
_SCHEMA: Final[Schema] = [
    ("Timestamp", [
        ("seconds", 1, _F.TYPE_INT64, _OPTIONAL, None),
        ("nanos", 2, _F.TYPE_INT32, _OPTIONAL, None),
    ]),
    ("LabelPairAdapter", [
        ("name", 1, _F.TYPE_BYTES, _OPTIONAL, None),
        ("value", 2, _F.TYPE_BYTES, _OPTIONAL, None),
    ]),
    ("EntryAdapter", [
        ("timestamp", 1, _F.TYPE_MESSAGE, _OPTIONAL, "Timestamp"),
        ("line", 2, _F.TYPE_BYTES, _OPTIONAL, None),
        ("structuredMetadata", 3, _F.TYPE_MESSAGE, _REPEATED, "LabelPairAdapter"),
        ("parsed", 4, _F.TYPE_MESSAGE, _REPEATED, "LabelPairAdapter"),
    ]),
    ("StreamAdapter", [
        ("labels", 1, _F.TYPE_BYTES, _OPTIONAL, None),
        ("entries", 2, _F.TYPE_MESSAGE, _REPEATED, "EntryAdapter"),
        ("hash", 3, _F.TYPE_UINT64, _OPTIONAL, None),
    ]),
    ("PushRequest", [
        ("streams", 1, _F.TYPE_MESSAGE, _REPEATED, "StreamAdapter"),
        ("format", 2, _F.TYPE_BYTES, _OPTIONAL, None),
    ]),
]  # fmt: skip


_CLASSES: Final = message_classes("stacklens/loki/push.proto", _PACKAGE, _SCHEMA)
Timestamp: Any = _CLASSES["Timestamp"]
LabelPairAdapter: Any = _CLASSES["LabelPairAdapter"]
EntryAdapter: Any = _CLASSES["EntryAdapter"]
StreamAdapter: Any = _CLASSES["StreamAdapter"]
PushRequest: Any = _CLASSES["PushRequest"]
