"""Prometheus remote-write bodies for tests: series → snappy-compressed ``WriteRequest``."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Final

import cramjam

from stacklens.ingest.prometheus.proto import WriteRequest
from stacklens.ingest.prometheus.remote_write import STALE_NAN_BITS

__all__ = ["HEADERS", "STALE_NAN", "Series", "write_body", "write_request_bytes"]

#: What Prometheus sends with every remote-write request.
HEADERS: Final = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
#: Prometheus's staleness marker, as a float.
STALE_NAN: Final[float] = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]

#: (labels, [(timestamp ms, value)])
Series = tuple[Mapping[str, str], Sequence[tuple[int, float]]]


def write_request_bytes(series: Sequence[Series]) -> bytes:
    """The uncompressed ``WriteRequest`` (labels sorted by name, as Prometheus sends them)."""
    request = WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name in sorted(labels):
            ts.labels.add(name=name.encode(), value=labels[name].encode())
        for ms, value in samples:
            ts.samples.add(timestamp=ms, value=value)
    return bytes(request.SerializeToString())


def write_body(series: Sequence[Series]) -> bytes:
    """A remote-write request body: the ``WriteRequest`` as one snappy block."""
    return bytes(cramjam.snappy.compress_raw(write_request_bytes(series)))
