"""Prometheus remote write 1.0 bodies → :class:`~stacklens.ingest.otlp.MetricPoint` points.

A body is a snappy *block* (not framed) compressed ``prometheus.WriteRequest``. One point
per sample, its series' labels kept:

* ``__name__`` is the point's ``name``; every other label is an attribute (JSON text,
  sorted keys), ``job`` and ``instance`` included, except ``stack_name``, which is the
  point's stack (the ``stack_name`` column, a label like any other on the way out).
* ``service`` is the ``service`` label, else ``job`` (what the OTel Prometheus receiver
  makes ``service.name`` of), so the hub's per-service views hold remote-written series.
* the sample timestamp is milliseconds since the epoch; the point's ``ts`` nanoseconds.
* ``kind``: remote write 1.0 sends a series' type, if at all, in separate metadata
  requests, so it is read from the name, the Prometheus naming convention, and therefore
  the same for every sample of a series: ``_total``/``_count``/``_bucket`` are cumulative
  monotonic ``sum`` points, everything else ``gauge``. The value is the sample's, as sent.
* a **stale marker** (the NaN with bits ``0x7ff0000000000002`` Prometheus writes when a
  series disappears) is stored as a point of kind ``stale`` with no value: the series'
  end, for a query engine to stop its lookback there (and for alert rules, see
  :mod:`stacklens.alerting.signals`). Any other NaN or an infinity has no value (the store
  holds finite numbers only; the point is kept, as OTLP points are).

Refused whole (an :class:`RemoteWriteError`, 400): a body that is not snappy, or not a
``WriteRequest``. Past a per-request bound (:mod:`stacklens.ingest.limits`): too many
samples (413) or labels on one series (400). Refused per series (reported, the others
stored): no ``__name__``, a label name Prometheus would not accept, a duplicate label
name, a value that is not UTF-8 or longer than :data:`MAX_LABEL_VALUE_BYTES`, an invalid
``stack_name``, a sample not after the epoch or more than a day ahead of the hub's clock,
and native histograms (the hub stores classic series only: send them as
classic histograms, Prometheus's default). Exemplars and metadata are ignored.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any, Final, NamedTuple

import cramjam
import msgspec
from google.protobuf.message import DecodeError

from stacklens.ingest.limits import (
    DEFAULT_REQUEST_LIMITS,
    RequestLimits,
    check_attributes,
    check_items,
)
from stacklens.ingest.otlp import MetricPoint
from stacklens.ingest.steps import CHUNK, Steps, run_steps
from stacklens.schema import DEFAULT_LIMITS, STACK_NAME_RE

from .proto import WriteRequest

__all__ = [
    "MAX_AHEAD_NS",
    "MAX_LABEL_VALUE_BYTES",
    "STALE_NAN_BITS",
    "RemoteWriteError",
    "RemoteWriteResult",
    "decode_write",
    "is_stale_marker",
    "write_steps",
]

#: The NaN Prometheus writes as a staleness marker (``value.StaleNaN``).
STALE_NAN_BITS: Final = 0x7FF0000000000002
#: Samples further ahead of the hub's clock refuse their series (the events' bound).
MAX_AHEAD_NS: Final = DEFAULT_LIMITS.max_future_ns
#: A label value longer than this refuses its series (the events' string bound).
MAX_LABEL_VALUE_BYTES: Final = 16 * 1024
#: Prometheus's label-name grammar (legacy, the only one remote write 1.0 senders use).
_LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_COUNTER_SUFFIXES: Final = ("_total", "_count", "_bucket")
_NS_PER_MS: Final = 1_000_000
_json = msgspec.json.Encoder(order="sorted")


class RemoteWriteError(ValueError):
    """The body cannot be read at all (HTTP 400); ``str(err)`` is the reason."""


class RemoteWriteResult(NamedTuple):
    points: list[MetricPoint]
    #: ``(series index, reason)`` for each series refused.
    rejected: list[tuple[int, str]]


class _SeriesError(ValueError):
    pass


def is_stale_marker(value: float) -> bool:
    """True for Prometheus's staleness NaN (a plain NaN is not one)."""
    bits: int = struct.unpack("<Q", struct.pack("<d", value))[0]
    return bits == STALE_NAN_BITS


def decode_write(
    body: bytes,
    *,
    max_bytes: int,
    limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
    now_ns: int | None = None,
) -> RemoteWriteResult:
    """A snappy-compressed ``WriteRequest`` → points; raises :class:`RemoteWriteError`
    when unreadable, RequestLimitError past a per-request bound. ``now_ns``: the hub's
    clock, for refusing samples from too far ahead (None: no such check)."""
    return run_steps(write_steps(body, max_bytes, limits, now_ns))


def write_steps(
    body: bytes, max_bytes: int, limits: RequestLimits, now_ns: int | None = None
) -> Steps[RemoteWriteResult]:
    """:func:`decode_write`, pausing (``yield``) between chunks of samples."""
    latest_ms = None if now_ns is None else (now_ns + MAX_AHEAD_NS) // _NS_PER_MS
    request = WriteRequest()
    try:
        request.ParseFromString(unsnappy(body, max_bytes))
    except DecodeError as err:
        raise RemoteWriteError(f"not a prometheus.WriteRequest: {err}") from None
    yield
    check_items(sum(len(series.samples) for series in request.timeseries), limits, "samples")
    points: list[MetricPoint] = []
    rejected: list[tuple[int, str]] = []
    done = 0
    for index, series in enumerate(request.timeseries):
        check_attributes(len(series.labels), limits, index, "series")
        try:
            points.extend(_series_points(series, latest_ms))
        except _SeriesError as err:
            rejected.append((index, str(err)))
        done += len(series.samples) + 1
        if done >= CHUNK:
            done = 0
            yield
    return RemoteWriteResult(points, rejected)


def unsnappy(body: bytes, max_bytes: int) -> bytes:
    """Decompress a snappy block, refusing one that announces more than ``max_bytes``."""
    if _snappy_length(body) > max_bytes:
        raise RemoteWriteError(f"decompressed body is larger than {max_bytes} bytes")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as err:
        raise RemoteWriteError(
            f"not a snappy block (remote write is snappy-compressed): {err}"
        ) from None


def _snappy_length(body: bytes) -> int:
    """The uncompressed length a snappy block announces (its varint preamble)."""
    result = 0
    for shift, byte in zip(range(0, 35, 7), body, strict=False):
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
    raise RemoteWriteError("not a snappy block: bad length preamble")


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise _SeriesError(f"{what} is not valid UTF-8") from None


#: Label names already checked (the same few dozen recur in every request); bounded, so
#: a sender of random names cannot grow it.
_CHECKED_NAMES: dict[bytes, str] = {}
_CHECKED_NAMES_MAX: Final = 4096


def _label_name(raw: bytes) -> str:
    name = _CHECKED_NAMES.get(raw)
    if name is not None:
        return name
    name = _text(raw, "a label name")
    if not _LABEL_NAME.fullmatch(name):
        raise _SeriesError(f"invalid label name {name[:64]!r}")
    if len(_CHECKED_NAMES) < _CHECKED_NAMES_MAX:
        _CHECKED_NAMES[raw] = name
    return name


def _labels(series: Any) -> dict[str, str]:
    labels: dict[str, str] = {}
    for label in series.labels:
        name = _label_name(label.name)
        if name in labels:
            raise _SeriesError(f"duplicate label name {name!r}")
        value = label.value
        if len(value) > MAX_LABEL_VALUE_BYTES:
            raise _SeriesError(
                f"label {name!r} has a value longer than {MAX_LABEL_VALUE_BYTES} bytes"
            )
        try:
            labels[name] = value.decode()
        except UnicodeDecodeError:
            raise _SeriesError(f"the value of label {name!r} is not valid UTF-8") from None
    return labels


def _series_points(series: Any, latest_ms: int | None) -> list[MetricPoint]:
    labels = _labels(series)
    name = labels.pop("__name__", "")
    if not name:
        raise _SeriesError("series has no __name__ label")
    if not _METRIC_NAME.fullmatch(name):
        raise _SeriesError(f"invalid metric name {name[:64]!r}")
    if series.histograms:
        raise _SeriesError(
            f"{name}: native histograms are not stored; send classic histograms "
            "(_bucket/_sum/_count series, Prometheus's default)"
        )
    stack = labels.pop("stack_name", None)
    if stack is not None and not STACK_NAME_RE.fullmatch(stack):
        raise _SeriesError(f"{name}: stack_name label must match [a-z0-9][a-z0-9_.-]{{0,62}}")
    service = labels.get("service") or labels.get("job") or None
    attributes = _json.encode(labels).decode()
    counter = name.endswith(_COUNTER_SUFFIXES)
    kind = "sum" if counter else "gauge"
    monotonic = True if counter else None
    temporality = "cumulative" if counter else None
    points = []
    for sample in series.samples:
        if sample.timestamp <= 0:
            raise _SeriesError(f"{name}: sample timestamp must be milliseconds since the epoch")
        if latest_ms is not None and sample.timestamp > latest_ms:
            raise _SeriesError(
                f"{name}: sample timestamp {sample.timestamp} is more than 24 h ahead of "
                "the hub's clock (timestamps are milliseconds since the epoch)"
            )
        value = sample.value
        stale = math.isnan(value) and is_stale_marker(value)
        points.append(
            MetricPoint(
                sample.timestamp * _NS_PER_MS, stack, service, name,
                "stale" if stale else kind, "", attributes,
                value if math.isfinite(value) else None,
                None, None, None,
                None if stale else monotonic, None,
                None if stale else temporality,
            )
        )  # fmt: skip
    return points
