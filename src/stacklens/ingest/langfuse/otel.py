"""The ``langfuse.*`` span attributes (Langfuse's OTel SDKs, Python v3+ and JS v4+) on
events the OTLP traces decoder made.

The decoder already maps ``gen_ai.*``, ``session.id`` and ``user.id``, and puts
``langfuse.observation.input`` / ``output`` and ``langfuse.trace.input`` / ``output`` into
``data.content`` (:data:`stacklens.ingest.otlp.semconv.CONTENT_KEYS`). This step reads
what only Langfuse says: the observation type (``generation`` is an ``llm_call``,
``tool`` a ``tool_use``, the rest spans), ``langfuse.observation.model.name``, the
usage and cost details (JSON text), the level, and the older
``langfuse.session.id`` / ``langfuse.user.id`` names.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from .usage import cost_fields, token_fields

__all__ = ["apply_langfuse_attributes"]

_TYPES: Final = {
    "generation": "llm_call",
    "embedding": "llm_call",
    "tool": "tool_use",
}
_SPAN_TYPES: Final = frozenset(
    {"span", "event", "agent", "chain", "retriever", "evaluator", "guardrail"}
)
_PEOPLE: Final = (
    ("langfuse.session.id", "session_id"),
    ("langfuse.user.id", "user_id"),
    ("langfuse.trace.session_id", "session_id"),
    ("langfuse.trace.user_id", "user_id"),
)


def apply_langfuse_attributes(event: dict[str, Any]) -> dict[str, Any]:
    """Refine one decoded span event in place (and return it)."""
    attrs: dict[str, Any] = event.get("attributes") or {}
    data: dict[str, Any] = event.setdefault("data", {})
    kind = attrs.get("langfuse.observation.type")
    if isinstance(kind, str):
        if kind in _TYPES:
            event["event_type"] = _TYPES[kind]
        elif kind in _SPAN_TYPES:
            event["event_type"] = "span"
    model = attrs.pop("langfuse.observation.model.name", None)
    if isinstance(model, str) and model and "model" not in data:
        data["model"] = model
    usage = _json(attrs.pop("langfuse.observation.usage_details", None))
    if not any(key.startswith("tokens_") for key in data):
        data.update(token_fields(usage))
    costs = _json(attrs.pop("langfuse.observation.cost_details", None))
    if "cost_usd" not in data:
        data.update(cost_fields(costs))
    if attrs.get("langfuse.observation.level") == "ERROR":
        data["success"] = False
        message = attrs.get("langfuse.observation.status_message")
        if isinstance(message, str) and message and "error_code" not in data:
            data["error_code"] = message[:200]
    for source, target in _PEOPLE:
        value = attrs.pop(source, None)
        if isinstance(value, str) and value:
            event.setdefault(target, value)
    if event["event_type"] == "tool_use" and "tool" not in data and event.get("message"):
        data["tool"] = event["message"]
    if event["event_type"] != "llm_call":
        # Only calls carry token columns: an agent or chain span repeating its children's
        # usage would double the sums.
        for key in [k for k in data if k.startswith("tokens_") or k == "cost_usd"]:
            attrs[f"langfuse.{key}"] = data.pop(key)
    return event


def _json(value: Any) -> Any:
    """Usage and cost details arrive as JSON text (or, from some exporters, flattened)."""
    if isinstance(value, str):
        try:
            return msgspec.json.decode(value)
        except (msgspec.DecodeError, ValueError, RecursionError):
            return None
    return value
