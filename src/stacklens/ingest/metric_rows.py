"""OTel metric points → stored rows: the stack resolved, attributes redacted, an id
derived from the point's identity so an exporter's retry is deduplicated."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, NamedTuple

import msgspec

from stacklens.ingest.otlp import MetricPoint
from stacklens.ingest.pipeline import ForbiddenStackError
from stacklens.privacy import Redactor
from stacklens.schema import TS_MAX_NS, TS_MIN_NS, MetricRow

__all__ = ["PreparedPoints", "prepare_points"]

_encoder = msgspec.json.Encoder(order="sorted")


class PreparedPoints(NamedTuple):
    payload: bytes
    rows: int
    rejected: list[tuple[int, str]]


def _point_id(point: MetricPoint, stack: str) -> str:
    identity = (
        stack,
        point.service,
        point.name,
        point.kind,
        point.attributes,
        point.ts,
        point.start_ts,
    )
    return hashlib.blake2b(_encoder.encode(identity), digest_size=16).hexdigest()


_INT64_MAX = 2**63 - 1


def point_problem(point: MetricPoint) -> str | None:
    """Why the store could not hold this point (every column is int64 / finite), or
    None. Checked at the door, so an acknowledged point always loads."""
    for name, ts in (("timeUnixNano", point.ts), ("startTimeUnixNano", point.start_ts)):
        if ts is not None and ts != 0 and not TS_MIN_NS <= ts <= TS_MAX_NS:
            return f"{name}: out of range (1970-01-01..2262-04-11)"
    if point.count is not None and not 0 <= point.count <= _INT64_MAX:
        return f"count: out of range (0..{_INT64_MAX})"
    if point.bucket_counts is not None and any(
        not 0 <= c <= _INT64_MAX for c in point.bucket_counts
    ):
        return f"bucketCounts: out of range (0..{_INT64_MAX})"
    return None


def prepare_points(
    points: Iterable[MetricPoint],
    *,
    redactor: Redactor,
    key_stack: str | None,
    default_stack: str | None,
    received_ns: int,
) -> PreparedPoints:
    lines: list[bytes] = []
    rejected: list[tuple[int, str]] = []
    for index, point in enumerate(points):
        stack = point.stack_name or key_stack or default_stack
        if stack is None:
            rejected.append(
                (index, "no stack: set resource attribute stack.name or use a stack-bound key")
            )
            continue
        if key_stack is not None and stack != key_stack:
            raise ForbiddenStackError(
                f"metric {point.name!r} is for stack {stack!r}; this key is bound to {key_stack!r}"
            )
        problem = point_problem(point)
        if problem is not None:
            rejected.append((index, problem))
            continue
        attributes: Any = msgspec.json.decode(point.attributes) if point.attributes else {}
        safe, _ = redactor.redact_value(attributes, "attributes", stack=stack)
        row = MetricRow(
            point_id=_point_id(point, stack),
            ts=point.ts,
            stack_name=stack,
            name=point.name,
            kind=point.kind,
            service=point.service,
            unit=point.unit or None,
            attributes=_encoder.encode(safe).decode(),
            value=point.value,
            count=point.count,
            bounds=point.bounds,
            bucket_counts=point.bucket_counts,
            monotonic=point.monotonic,
            temporality=point.temporality,
            start_ts=point.start_ts or None,
            received_ns=received_ns,
        )
        lines.append(_encoder.encode(row))
    payload = b"\n".join(lines) + b"\n" if lines else b""
    return PreparedPoints(payload, len(lines), rejected)
