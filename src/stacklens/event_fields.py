"""The event contract's names (v1): event types, stack names, the fields of an event
and of its ``data`` object, and the camelCase aliases clients send for them.

What :mod:`stacklens.normalize` checks raw events against, what the SDK builds events
from and what :mod:`stacklens.event_schema` documents; dependency-free so the SDK can
import it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

__all__ = [
    "BOOL_DATA_FIELDS",
    "CAMEL_ALIASES",
    "CAMEL_DATA_ALIASES",
    "DATA_FIELDS",
    "EVENT_TYPES",
    "FLOAT_DATA_FIELDS",
    "INT_DATA_FIELDS",
    "STACK_NAME_RE",
    "STRING_FIELDS",
    "STR_DATA_FIELDS",
]

EVENT_TYPES: Final = frozenset(
    {
        "session_start",
        "session_end",
        "message",
        "tool_use",
        "llm_call",
        "error",
        "log",
        "http_request",
        "heartbeat",
        "feedback",
        "span",
    }
)

STACK_NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")

#: Top-level string fields of the contract (besides ids, type and stack).
STRING_FIELDS: Final = (
    "session_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "user_id",
    "service",
    "level",
    "message",
)

INT_DATA_FIELDS: Final = (
    "tokens_in",
    "tokens_out",
    "tokens_cache_read",
    "tokens_cache_write",
    "tokens_reasoning",
    "content_length",
    "word_count",
    "status_code",
)
FLOAT_DATA_FIELDS: Final = ("cost_usd", "duration_ms", "score")
STR_DATA_FIELDS: Final = (
    "role",
    "model",
    "provider",
    "agent",
    "tool",
    "error_code",
    "method",
    "path",
    "content_hash",
    "args_hash",
    "comment",
    # Raw inputs the privacy engine transforms before storage; after privacy they
    # hold the transformed value (pattern, command names, sanitized URL, or content
    # only where a stack's policy stores it).
    "content",
    "command",
    "file_path",
    "url",
)
BOOL_DATA_FIELDS: Final = ("success",)
#: Keys of ``data`` with a column of their own; any other key becomes an attribute.
DATA_FIELDS: Final = frozenset(
    INT_DATA_FIELDS + FLOAT_DATA_FIELDS + STR_DATA_FIELDS + BOOL_DATA_FIELDS
)

#: camelCase names the JavaScript hook of seed 000 §3.2.1 sends, and where they go.
CAMEL_ALIASES: Final[Mapping[str, str]] = {
    "type": "event_type",
    "eventType": "event_type",
    "eventId": "event_id",
    "stackName": "stack_name",
    "sessionId": "session_id",
    "traceId": "trace_id",
    "spanId": "span_id",
    "parentSpanId": "parent_span_id",
    "userId": "user_id",
}
#: camelCase keys that belong in ``data`` (the hook puts them at the top level).
CAMEL_DATA_ALIASES: Final[Mapping[str, str]] = {
    "contentHash": "content_hash",
    "contentLength": "content_length",
    "argsHash": "args_hash",
    "duration": "duration_ms",
    "durationMs": "duration_ms",
    "tokensIn": "tokens_in",
    "tokensOut": "tokens_out",
    "costUsd": "cost_usd",
    "wordCount": "word_count",
    "errorCode": "error_code",
    "statusCode": "status_code",
    "filePath": "file_path",
}
