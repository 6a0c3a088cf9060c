"""Prometheus's remote-write 1.0 protobuf (``prometheus.WriteRequest``), built at import time.

Prometheus publishes no Python module for ``prompb/remote.proto`` and ``prompb/types.proto``,
so the message classes are made here from a ``FileDescriptorProto`` (field numbers checked
against prometheus/prometheus ``prompb``)::

    WriteRequest { repeated TimeSeries timeseries = 1; reserved 2;
                   repeated MetricMetadata metadata = 3; }
    TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
                   repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
    Label        { string name = 1; string value = 2; }
    Sample       { double value = 1; int64 timestamp = 2; }   // timestamp: ms since epoch

Why ``bytes`` for the label strings: identical on the wire, but protobuf's Python runtime
refuses a whole message on invalid UTF-8 in a proto3 ``string``, while Prometheus (Go) never
checks; with ``bytes`` the decoder refuses just the one series, by name.

Exemplars, native histograms and metadata are declared as opaque ``bytes``: the wire format
of an embedded message and of ``bytes`` is the same (length-delimited), so a request that
carries them parses, and the decoder can see that they are there (and say what it does with
them) without this module modelling the native-histogram schema the hub does not store.
"""

from __future__ import annotations

from typing import Any, Final

from stacklens.ingest.proto_classes import OPTIONAL as _OPTIONAL
from stacklens.ingest.proto_classes import REPEATED as _REPEATED
from stacklens.ingest.proto_classes import FieldType as _F
from stacklens.ingest.proto_classes import Schema, message_classes

__all__ = ["Label", "Sample", "TimeSeries", "WriteRequest"]

_PACKAGE: Final = "stacklens.prometheus.prompb"
_SCHEMA: Final[Schema] = [
    ("Label", [
        ("name", 1, _F.TYPE_BYTES, _OPTIONAL, None),
        ("value", 2, _F.TYPE_BYTES, _OPTIONAL, None),
    ]),
    ("Sample", [
        ("value", 1, _F.TYPE_DOUBLE, _OPTIONAL, None),
        ("timestamp", 2, _F.TYPE_INT64, _OPTIONAL, None),
    ]),
    ("TimeSeries", [
        ("labels", 1, _F.TYPE_MESSAGE, _REPEATED, "Label"),
        ("samples", 2, _F.TYPE_MESSAGE, _REPEATED, "Sample"),
        ("exemplars", 3, _F.TYPE_BYTES, _REPEATED, None),
        ("histograms", 4, _F.TYPE_BYTES, _REPEATED, None),
    ]),
    ("WriteRequest", [
        ("timeseries", 1, _F.TYPE_MESSAGE, _REPEATED, "TimeSeries"),
        ("metadata", 3, _F.TYPE_BYTES, _REPEATED, None),
    ]),
]  # fmt: skip


_CLASSES: Final = message_classes("stacklens/prometheus/remote.proto", _PACKAGE, _SCHEMA)
Label: Any = _CLASSES["Label"]
Sample: Any = _CLASSES["Sample"]
TimeSeries: Any = _CLASSES["TimeSeries"]
WriteRequest: Any = _CLASSES["WriteRequest"]
