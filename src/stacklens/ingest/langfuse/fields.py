"""Small pieces every Langfuse record shares: its trace's session and user, its content
(``input`` / ``output``, hashed by the privacy engine), and its times."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from stacklens.schema import EventError, parse_timestamp

__all__ = ["content", "link_trace", "people", "time_ns"]

_encoder = msgspec.json.Encoder()


def link_trace(event: dict[str, Any], trace_id: Any, traces: dict[str, dict[str, Any]]) -> None:
    if isinstance(trace_id, str) and trace_id:
        event["trace_id"] = trace_id
        trace = traces.get(trace_id)
        if trace is not None:
            people(event, trace)


def people(event: dict[str, Any], body: Mapping[str, Any]) -> None:
    for source, target in (("sessionId", "session_id"), ("userId", "user_id")):
        value = body.get(source)
        if isinstance(value, str) and value:
            event.setdefault(target, value)


def content(data: dict[str, Any], body: Mapping[str, Any]) -> None:
    """``input`` and ``output`` as one content text (the privacy engine hashes it)."""
    parts = [_text(body[key]) for key in ("input", "output") if body.get(key) is not None]
    if parts:
        data["content"] = "\n".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return _encoder.encode(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):
        return str(value)


def time_ns(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except EventError as err:
        raise ValueError(f"{name}: {err}") from None
