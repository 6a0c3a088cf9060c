"""The one path every decoder's output takes: normalize → price → privacy → row → bytes.

Native events, OTLP spans and logs, and Loki entries all arrive here as raw events
(dicts in the native contract shape), so the contract checks and the privacy engine
cannot be skipped by any protocol. OTel metric points are the second sink: the stack
resolved, the point bounded to its columns, its attributes through the same redactor,
an id derived from the point's identity (so an exporter's retry is deduplicated).
:meth:`IngestPipeline.prepare_batch` takes either batch and says which spool stream its
rows are for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import msgspec

from stacklens.analytics.pricing import Pricer
from stacklens.ids import Clock, IdFactory, new_ulid, system_clock_ns
from stacklens.ingest.batch import Batch, ForbiddenStackError, PointBatch
from stacklens.ingest.steps import CHUNK, Steps, run_steps
from stacklens.privacy import Redactor
from stacklens.schema import (
    DEFAULT_LIMITS,
    TS_MAX_NS,
    TS_MIN_NS,
    EventError,
    Limits,
    MetricRow,
    normalize,
    to_row,
)

if TYPE_CHECKING:
    from stacklens.ingest.otlp import MetricPoint

__all__ = [
    "ForbiddenStackError",
    "IngestPipeline",
    "Prepared",
    "Stream",
    "point_problem",
    "with_placeholders",
]

#: The spool stream (and table) prepared rows are for.
Stream = Literal["events", "metrics"]


class Prepared(NamedTuple):
    #: NDJSON rows ready for the spool.
    payload: bytes
    rows: int
    #: (index, reason) for every item refused.
    rejected: list[tuple[int, str]]
    #: Stacks the rows belong to, to register (metric points register none, as before:
    #: the stack list is of stacks that sent events).
    stacks: frozenset[str]
    stream: Stream = "events"


def with_placeholders(events: list[Any], rejected: list[tuple[int, str]]) -> list[Any]:
    """A decoder's kept items back at their request positions (``None`` where it
    refused one), so every rejection index ``prepare`` reports refers to the request."""
    refused = {index for index, _ in rejected}
    kept = iter(events)
    return [None if i in refused else next(kept) for i in range(len(events) + len(refused))]


class IngestPipeline:
    def __init__(
        self,
        redactor: Redactor,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock = system_clock_ns,
        new_id: IdFactory = new_ulid,
        pricer: Pricer | None = None,
    ) -> None:
        self.pricer = pricer
        self.redactor = redactor
        self.limits = limits
        self._clock = clock
        self._new_id = new_id
        self._encoder = msgspec.json.Encoder()

    def prepare_batch(
        self,
        batch: Batch,
        *,
        key_stack: str | None,
        default_stack: str | None,
        received_ns: int,
    ) -> Steps[Prepared]:
        """Either sink's batch through its path, pausing between chunks of items."""
        if isinstance(batch, PointBatch):
            return self.prepare_points_steps(
                batch.items,
                key_stack=key_stack,
                default_stack=default_stack,
                received_ns=received_ns,
                rejected=batch.rejected,
            )
        return self.prepare_steps(
            batch.items, key_stack=key_stack, default_stack=default_stack, rejected=batch.rejected
        )

    def prepare(
        self,
        raw_events: Iterable[Any],
        *,
        key_stack: str | None,
        default_stack: str | None = None,
        rejected: Iterable[tuple[int, str]] = (),
    ) -> Prepared:
        """Check, redact and encode events; ``rejected`` carries refusals made earlier
        (by a decoder) so one list reports them all. ``None`` entries are placeholders
        for items a decoder already refused."""
        return run_steps(
            self.prepare_steps(
                raw_events, key_stack=key_stack, default_stack=default_stack, rejected=rejected
            )
        )

    def prepare_steps(
        self,
        raw_events: Iterable[Any],
        *,
        key_stack: str | None,
        default_stack: str | None = None,
        rejected: Iterable[tuple[int, str]] = (),
    ) -> Steps[Prepared]:
        """:meth:`prepare`, pausing (``yield``) between chunks of events."""
        if key_stack is not None and default_stack not in (None, key_stack):
            raise ForbiddenStackError(
                f"this key is bound to stack {key_stack!r}, not {default_stack!r}"
            )
        fallback = key_stack or default_stack
        now = self._clock()
        refused = list(rejected)
        lines: list[bytes] = []
        stacks: set[str] = set()
        encode = self._encoder.encode
        for index, raw in enumerate(raw_events):
            if index % CHUNK == CHUNK - 1:
                yield
            if raw is None:
                continue
            try:
                event = normalize(
                    raw, default_stack=fallback, now_ns=now, new_id=self._new_id, limits=self.limits
                )
            except EventError as exc:
                refused.append((index, str(exc)))
                continue
            if key_stack is not None and event["stack_name"] != key_stack:
                raise ForbiddenStackError(
                    f"event {index} is for stack {event['stack_name']!r}; "
                    f"this key is bound to {key_stack!r}"
                )
            if self.pricer is not None:
                self.pricer.apply(event)  # before privacy: pricing reads the raw model name
            safe = self.redactor.redact_event(event).event
            stacks.add(safe["stack_name"])
            lines.append(encode(to_row(safe, now)))
        refused.sort()
        payload = b"\n".join(lines) + b"\n" if lines else b""
        return Prepared(payload, len(lines), refused, frozenset(stacks))

    def prepare_points(
        self,
        points: Iterable[MetricPoint],
        *,
        key_stack: str | None,
        default_stack: str | None,
        received_ns: int,
        rejected: Iterable[tuple[int, str]] = (),
    ) -> Prepared:
        """Check, redact and encode metric points (the metric-points sink)."""
        return run_steps(
            self.prepare_points_steps(
                points,
                key_stack=key_stack,
                default_stack=default_stack,
                received_ns=received_ns,
                rejected=rejected,
            )
        )

    def prepare_points_steps(
        self,
        points: Iterable[MetricPoint],
        *,
        key_stack: str | None,
        default_stack: str | None,
        received_ns: int,
        rejected: Iterable[tuple[int, str]] = (),
    ) -> Steps[Prepared]:
        """:meth:`prepare_points`, pausing (``yield``) between chunks of points. An index
        here is the point's position among the decoded points."""
        refused = list(rejected)
        lines: list[bytes] = []
        for index, point in enumerate(points):
            if index % CHUNK == CHUNK - 1:
                yield
            stack = point.stack_name or key_stack or default_stack
            if stack is None:
                refused.append(
                    (index, "no stack: set resource attribute stack.name or use a stack-bound key")
                )
                continue
            if key_stack is not None and stack != key_stack:
                raise ForbiddenStackError(
                    f"metric {point.name!r} is for stack {stack!r}; "
                    f"this key is bound to {key_stack!r}"
                )
            problem = point_problem(point) or (
                self.limits.age_error(stack, point.ts, received_ns) if point.ts else None
            )
            if problem is not None:
                refused.append((index, problem))
                continue
            attributes: Any = msgspec.json.decode(point.attributes) if point.attributes else {}
            safe, _ = self.redactor.redact_value(attributes, "attributes", stack=stack)
            lines.append(_sorted_encoder.encode(_metric_row(point, stack, safe, received_ns)))
        refused.sort()
        payload = b"\n".join(lines) + b"\n" if lines else b""
        return Prepared(payload, len(lines), refused, frozenset(), "metrics")


# ------------------------------------------------------------------ metric points

#: Sorted keys: the attributes text and the point id are stable for the same point.
_sorted_encoder = msgspec.json.Encoder(order="sorted")
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
    return hashlib.blake2b(_sorted_encoder.encode(identity), digest_size=16).hexdigest()


def _metric_row(point: MetricPoint, stack: str, attributes: Any, received_ns: int) -> MetricRow:
    return MetricRow(
        point_id=_point_id(point, stack),
        ts=point.ts,
        stack_name=stack,
        name=point.name,
        kind=point.kind,
        service=point.service,
        unit=point.unit or None,
        attributes=_sorted_encoder.encode(attributes).decode(),
        value=point.value,
        count=point.count,
        bounds=point.bounds,
        bucket_counts=point.bucket_counts,
        monotonic=point.monotonic,
        temporality=point.temporality,
        start_ts=point.start_ts or None,
        received_ns=received_ns,
    )
