"""What one event becomes and what bounds it: the rows the spool and the store hold
(:class:`EventRow`, :class:`MetricRow`), the per-event :class:`Limits`, and
:class:`EventError`, the client-facing reason an event is refused.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = ["DEFAULT_LIMITS", "EventError", "EventRow", "Limits", "MaxAge", "MetricRow"]


class MaxAge(msgspec.Struct, frozen=True):
    """How old an event may be: the events retention, as nanoseconds and as the
    setting's text for the reason (``7d``)."""

    ns: int
    text: str


class Limits(msgspec.Struct, frozen=True):
    """Bounds on one event; an event past one is rejected with the reason."""

    max_message_bytes: int = 256 * 1024
    max_string_bytes: int = 16 * 1024
    max_content_bytes: int = 1024 * 1024
    max_attributes: int = 256
    #: Events further in the future than this are refused (a client clock gone wrong).
    max_future_ns: int = 24 * 3600 * 10**9
    #: Events older than events retention are refused: their day is being dropped, or
    #: already is (None: any age). ``max_age_by_stack``: a stack's own retention.
    max_age: MaxAge | None = None
    max_age_by_stack: dict[str, MaxAge] = msgspec.field(default_factory=dict)

    def age_error(self, stack: str, ts_ns: int, now_ns: int) -> str | None:
        """The reason an event of ``stack`` at ``ts_ns`` is too old, else None (for
        every door: native events, OTLP spans, logs and metric points)."""
        age = self.max_age_by_stack.get(stack, self.max_age)
        if age is not None and ts_ns < now_ns - age.ns:
            return f"older than events retention ({age.text})"
        return None


DEFAULT_LIMITS: Final = Limits()


class EventError(ValueError):
    """One event broke the contract; ``str(err)`` is the reason given to the client."""


class EventRow(msgspec.Struct, omit_defaults=True):
    """One row of the wide ``events`` table; the unit the spool and store hold."""

    event_id: str
    ts: int  # epoch nanoseconds
    stack_name: str
    event_type: str
    session_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    user_id: str | None = None
    service: str | None = None
    level: str | None = None
    message: str | None = None
    role: str | None = None
    model: str | None = None
    provider: str | None = None
    agent: str | None = None
    tool: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cache_read: int | None = None
    tokens_cache_write: int | None = None
    tokens_reasoning: int | None = None
    cost_usd: float | None = None
    duration_ms: float | None = None
    success: bool | None = None
    error_code: str | None = None
    status_code: int | None = None
    method: str | None = None
    path: str | None = None
    content_hash: str | None = None
    content_length: int | None = None
    word_count: int | None = None
    score: float | None = None
    comment: str | None = None
    content: str | None = None
    command: str | None = None
    file_path: str | None = None
    url: str | None = None
    args_hash: str | None = None
    attributes: str = "{}"  # JSON object text
    received_ns: int = 0


class MetricRow(msgspec.Struct, omit_defaults=True):
    """One stored OpenTelemetry metric data point (the ``metric_points`` table)."""

    point_id: str  # deterministic: an exporter's retry is deduplicated like an event
    ts: int  # epoch nanoseconds
    stack_name: str
    name: str
    kind: str  # gauge | sum | histogram | exp_histogram | summary
    service: str | None = None
    unit: str | None = None
    attributes: str = "{}"
    value: float | None = None
    count: int | None = None
    bounds: list[float] | None = None
    bucket_counts: list[int] | None = None
    monotonic: bool | None = None
    temporality: str | None = None
    start_ts: int | None = None
    received_ns: int = 0
