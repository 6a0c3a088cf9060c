"""From what ``emit`` queued to a contract event, its wire and disk forms, and the
``opencode_*`` metrics it implies. Runs in the sender thread, never the caller's.

Privacy (the same :class:`stacklens.privacy.Redactor` as the hub, which enforces anyway):

- **wire** (HTTP to the hub): secrets scrubbed from every value; ``command``,
  ``file_path`` and ``url`` reduced as at the hub; ``content`` is sent for the hub to
  hash (its key, its per-stack policy) unless ``STACKLENS_HASH_KEY`` is set, in which
  case it is hashed here and never leaves the process. ``args`` is left for the hub to
  hash with its key. ``user_id`` is left for the hub to pseudonymize.
- **disk** (spill segments, the JSONL file transport): never raw content. With a hash
  key, ``content`` becomes ``content_hash``; without one it is dropped and only
  ``content_length`` and ``word_count`` are kept. The trade-off: an event that went
  through the disk loses the hub-side hash of its text (and ``store`` policies lose
  the text), rather than leaving prompts on the stack's disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from stacklens.ids import new_ulid
from stacklens.schema import DATA_FIELDS, EVENT_TYPES
from stacklens.sdk.context import LogContext

if TYPE_CHECKING:
    from stacklens.privacy import Redactor
    from stacklens.sdk.catalog import Metrics

__all__ = ["EventBuilder", "QueuedEvent", "observe_metrics"]

#: What the caller's thread queues: (epoch ns, event_type, context, fields).
QueuedEvent = tuple[int, str, LogContext, dict[str, Any]]

_TOP_STRINGS: Final = frozenset(
    {
        "session_id",
        "trace_id",
        "span_id",
        "parent_span_id",
        "user_id",
        "service",
        "level",
        "message",
    }
)
_TOKEN_DIRECTIONS: Final = (
    ("tokens_in", "input"),
    ("tokens_out", "output"),
    ("tokens_cache_read", "cache_read"),
    ("tokens_cache_write", "cache_write"),
    ("tokens_reasoning", "reasoning"),
)
_log = logging.getLogger("stacklens.sdk")


def _encode_hook(value: Any) -> Any:
    return str(value)  # datetimes, Decimals, Paths, enums...: their text


_encoder = msgspec.json.Encoder(enc_hook=_encode_hook)


class EventBuilder:
    def __init__(
        self,
        *,
        stack_name: str | None,
        service: str | None,
        key: bytes,
        hash_content: bool,
        new_id: Callable[[int], str] = new_ulid,
    ) -> None:
        from stacklens.privacy import PrivacyPolicy, Redactor

        self.stack_name = stack_name
        self.service = service
        self.hash_content = hash_content
        self._new_id = new_id
        wire = PrivacyPolicy(content="hash" if hash_content else "store", pseudonymize_users=False)
        disk = PrivacyPolicy(content="hash" if hash_content else "drop", pseudonymize_users=False)
        self._wire: Redactor = Redactor(key, default_policy=wire)
        self._disk: Redactor = Redactor(key, default_policy=disk)
        self._unknown_types: set[str] = set()

    def build(self, item: QueuedEvent) -> dict[str, Any] | None:
        """The contract event (not yet redacted), or ``None`` for an unknown type."""
        ts, event_type, ctx, fields = item
        if event_type not in EVENT_TYPES:
            if event_type not in self._unknown_types and len(self._unknown_types) < 100:
                self._unknown_types.add(event_type)
                _log.warning("stacklens: dropping events of unknown type %.40r", event_type)
            return None
        event_id = fields.get("event_id")
        event: dict[str, Any] = {
            "event_id": event_id if isinstance(event_id, str) and event_id else self._new_id(ts),
            "timestamp": ts,
            "event_type": event_type,
        }
        if self.stack_name:
            event["stack_name"] = self.stack_name
        data: dict[str, Any] = dict(fields.get("data") or {})
        attributes: dict[str, Any] = dict(fields.get("attributes") or {})
        for key, value in fields.items():
            if value is None or key in ("data", "attributes", "event_id"):
                continue
            if key in _TOP_STRINGS:
                event[key] = value
            elif key in DATA_FIELDS or key == "args":
                data[key] = value
            else:
                attributes[key] = value
        # The context of the emitting call fills what the call did not say.
        for key, value in zip(LogContext._fields, ctx, strict=True):
            if value is not None and key not in event:
                event[key] = value
        if self.service and "service" not in event:
            event["service"] = self.service
        if data:
            event["data"] = data
        if attributes:
            event["attributes"] = attributes
        return event

    def wire_line(self, event: dict[str, Any]) -> bytes:
        """NDJSON line for the hub: secrets scrubbed; see the module docstring."""
        args = None
        data = event.get("data")
        if not self.hash_content and data is not None and "args" in data:
            # Left raw (scrubbed) so the hub hashes args with its own key.
            data = dict(data)
            args = data.pop("args")
            event = {**event, "data": data}
        safe = self._wire.redact_event(event).event
        if args is not None:
            safe["data"]["args"] = self._wire.redact_value(args, "data.args")[0]
        return _encoder.encode(safe)

    def disk_line(self, event: dict[str, Any]) -> bytes:
        """JSONL line for local disk: no secret, no raw content."""
        return _encoder.encode(self._disk.redact_event(event).event)


def observe_metrics(metrics: Metrics, event: dict[str, Any]) -> None:
    """Seed 000 §3.3 and seed 001 LLM metrics implied by one event."""
    kind = event["event_type"]
    data = event.get("data") or {}
    if kind == "session_start":
        metrics.labels("opencode_sessions_total").inc()
        metrics.labels("opencode_active_sessions").inc()
    elif kind == "session_end":
        metrics.labels("opencode_active_sessions").dec()
    elif kind == "message":
        metrics.labels(
            "opencode_messages_total",
            role=data.get("role") or "",
            model=data.get("model") or "",
            agent=data.get("agent") or "",
        ).inc()
    elif kind == "tool_use":
        success = data.get("success")
        metrics.labels(
            "opencode_tool_invocations_total",
            tool=data.get("tool") or "",
            success="false" if success is False else "true",
        ).inc()
    elif kind == "llm_call":
        _observe_llm(metrics, data)


def _observe_llm(metrics: Metrics, data: dict[str, Any]) -> None:
    model = str(data.get("model") or "")
    provider = str(data.get("provider") or "")
    status = "error" if data.get("success") is False else "success"
    metrics.labels(
        "opencode_llm_requests_total", provider=provider, model=model, status=status
    ).inc()
    for field, direction in _TOKEN_DIRECTIONS:
        count = data.get(field)
        if isinstance(count, int | float) and not isinstance(count, bool) and count > 0:
            metrics.labels("opencode_tokens_total", model=model, direction=direction).inc(count)
            if direction in ("input", "output"):
                metrics.labels(
                    "opencode_llm_tokens_total", provider=provider, model=model, type=direction
                ).inc(count)
    duration = data.get("duration_ms")
    if isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0:
        seconds = duration / 1000.0
        metrics.labels("opencode_response_duration_seconds", model=model).observe(seconds)
        metrics.labels(
            "opencode_llm_request_duration_seconds", provider=provider, model=model
        ).observe(seconds)
    cost = data.get("cost_usd")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost > 0:
        metrics.labels("opencode_llm_cost_dollars", provider=provider, model=model).inc(cost)
