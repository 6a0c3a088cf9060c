"""The JSON Schema of one native event (``stacklens schema``, the OpenAPI document).

Documentation of the contract in :mod:`stacklens.schema`; ingest itself is more lenient
(camelCase aliases, unknown keys kept as attributes).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from stacklens.schema import (
    BOOL_DATA_FIELDS,
    EVENT_TYPES,
    FLOAT_DATA_FIELDS,
    INT_DATA_FIELDS,
    STACK_NAME_RE,
    STR_DATA_FIELDS,
)

__all__ = ["TOKEN_DOCS", "Event", "json_schema"]

#: The token fields' meaning (one definition; converters for providers' raw usage in
#: :mod:`stacklens.analytics.usage_semantics`).
TOKEN_DOCS: Final = {
    "tokens_in": "All input tokens of the call: uncached, cache reads and cache writes "
    "together (OpenAI prompt_tokens / OTel gen_ai.usage.input_tokens). Anthropic's "
    "input_tokens excludes the cache: send input + cache_read + cache_creation, or the "
    "raw usage object as data.usage.",
    "tokens_cache_read": "The part of tokens_in read from the prompt cache.",
    "tokens_cache_write": "The part of tokens_in written to the prompt cache.",
    "tokens_out": "All output tokens, reasoning tokens included.",
    "tokens_reasoning": "The part of tokens_out spent reasoning (priced as output).",
    "usage": "Optional raw provider usage (Anthropic Messages, OpenAI Chat Completions "
    "or Responses shape), converted to the tokens_* fields when they are absent.",
}


#: ``data`` of the native event, for the JSON Schema: built from the typed field lists
#: above, so the schema cannot drift from what ``normalize`` checks.
_ContractData = msgspec.defstruct(
    "Data",
    [
        *((name, int | None, None) for name in INT_DATA_FIELDS),
        *((name, float | None, None) for name in FLOAT_DATA_FIELDS),
        *((name, str | None, None) for name in STR_DATA_FIELDS),
        *((name, bool | None, None) for name in BOOL_DATA_FIELDS),
        ("args", Any, None),
        ("usage", dict[str, Any] | None, None),
    ],
    omit_defaults=True,
    module=__name__,
)


class Event(msgspec.Struct, omit_defaults=True):
    """The native event (documentation and JSON Schema; ingest is more lenient)."""

    timestamp: str | int
    event_type: str
    event_id: str | None = None
    stack_name: str | None = None
    session_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    user_id: str | None = None
    service: str | None = None
    level: str | None = None
    message: str | None = None
    data: _ContractData | None = None  # type: ignore[valid-type]
    attributes: dict[str, Any] | None = None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one native event (printed by ``stacklens schema``)."""
    schema: dict[str, Any] = msgspec.json.schema(Event)
    definitions = schema.get("$defs", {})
    event = definitions.get("Event", {})
    event["description"] = (
        "stacklens native event v1. camelCase aliases (type, stackName, sessionId, "
        "contentHash, argsHash, duration) are accepted; unknown data keys are kept as "
        "attributes."
    )
    props = event.get("properties", {})
    if "event_type" in props:
        props["event_type"] = {"enum": sorted(EVENT_TYPES)}
    if "stack_name" in props:
        props["stack_name"] = {"type": "string", "pattern": f"^{STACK_NAME_RE.pattern}$"}
    data = definitions.get("Data", {}).get("properties", {})
    for name, text in TOKEN_DOCS.items():
        if name in data:
            data[name]["description"] = text
    return schema
