"""GenAI / OpenInference / HTTP attribute names and where they land in the contract.

The names were checked against the OpenTelemetry semantic conventions shipped in
``opentelemetry-semantic-conventions`` 0.66b2 (``gen_ai_attributes.py``: now maintained
in open-telemetry/semantic-conventions-genai), the OpenInference spec
(Arize-ai/openinference ``spec/semantic_conventions.md``) and the names OpenLIT and
OpenLLMetry (Traceloop) emit. One dict lookup per attribute decides its fate, which is
what keeps span decoding cheap: no per-key regex, no chain of ``if``.

Several names can feed one field (old and new semconv, OpenInference); the *rank*
decides which wins when a span carries more than one (higher wins; the loser is kept
as an ordinary attribute so nothing is lost).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final, NamedTuple

__all__ = [
    "AGENT_OPERATIONS",
    "ATTRIBUTE_RULES",
    "CONTENT_KEYS",
    "CONTENT_LEAVES",
    "CONTENT_PREFIXES",
    "LLM_HINT_FIELDS",
    "LLM_OPERATIONS",
    "NOT_CONTENT",
    "TOOL_OPERATIONS",
    "TOP_LEVEL_FIELDS",
    "Rule",
    "to_float",
    "to_int",
    "to_str",
]


def to_int(value: Any) -> int | None:
    """Token counts arrive as int, double or digit string depending on the SDK."""
    if isinstance(value, bool):
        return None
    # Numbers out of range are passed on, not dropped: normalize owns the bounds and
    # refuses the event with a reason, as it does for native events.
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.lstrip("-").isdigit() and len(value) < 40:
        return int(value)
    return None


def to_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            return None
    else:
        return None
    # NaN and infinities would make normalize reject the whole event.
    return result if math.isfinite(result) else None


def to_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


class Rule(NamedTuple):
    """``field`` is a ``data`` key, or a top-level key when in TOP_LEVEL_FIELDS."""

    field: str
    rank: int
    convert: Callable[[Any], Any]


#: Fields of the raw event that live at the top level rather than in ``data``.
TOP_LEVEL_FIELDS: Final = frozenset({"session_id", "user_id"})


def _args(value: Any) -> Any:
    return value  # data.args takes any JSON shape; the privacy engine hashes it


ATTRIBUTE_RULES: Final[dict[str, Rule]] = {
    # provider: gen_ai.provider.name replaced gen_ai.system; OpenInference's llm.provider
    # is the hosting provider (same meaning as gen_ai.provider.name), llm.system the product.
    "gen_ai.provider.name": Rule("provider", 4, to_str),
    "gen_ai.system": Rule("provider", 3, to_str),
    "llm.provider": Rule("provider", 2, to_str),
    "llm.system": Rule("provider", 1, to_str),
    # model: the model that answered beats the model asked for.
    "gen_ai.response.model": Rule("model", 6, to_str),
    "llm.response.model_name": Rule("model", 5, to_str),
    "gen_ai.request.model": Rule("model", 4, to_str),
    "llm.model_name": Rule("model", 3, to_str),
    "llm.request.model_name": Rule("model", 2, to_str),
    "embedding.model_name": Rule("model", 1, to_str),
    # tokens: the GenAI semconv's input_tokens (and OpenInference's prompt count) already
    # include cached tokens and output_tokens include reasoning tokens, which is the
    # contract's meaning of tokens_in / tokens_out (analytics.usage_semantics): mapped
    # as they are, the cache and reasoning counts as their parts.
    "gen_ai.usage.input_tokens": Rule("tokens_in", 3, to_int),
    "gen_ai.usage.prompt_tokens": Rule("tokens_in", 2, to_int),
    "llm.token_count.prompt": Rule("tokens_in", 1, to_int),
    "gen_ai.usage.output_tokens": Rule("tokens_out", 3, to_int),
    "gen_ai.usage.completion_tokens": Rule("tokens_out", 2, to_int),
    "llm.token_count.completion": Rule("tokens_out", 1, to_int),
    "gen_ai.usage.cache_read.input_tokens": Rule("tokens_cache_read", 3, to_int),
    "gen_ai.usage.cache_read_input_tokens": Rule("tokens_cache_read", 2, to_int),
    "llm.token_count.prompt_details.cache_read": Rule("tokens_cache_read", 1, to_int),
    "gen_ai.usage.cache_creation.input_tokens": Rule("tokens_cache_write", 3, to_int),
    "gen_ai.usage.cache_creation_input_tokens": Rule("tokens_cache_write", 2, to_int),
    "llm.token_count.prompt_details.cache_write": Rule("tokens_cache_write", 1, to_int),
    "gen_ai.usage.reasoning.output_tokens": Rule("tokens_reasoning", 3, to_int),
    "gen_ai.usage.reasoning_tokens": Rule("tokens_reasoning", 2, to_int),
    "llm.token_count.completion_details.reasoning": Rule("tokens_reasoning", 1, to_int),
    # cost in USD: OpenLIT's gen_ai.usage.cost, OpenInference's llm.cost.total.
    "gen_ai.usage.cost": Rule("cost_usd", 2, to_float),
    "llm.cost.total": Rule("cost_usd", 1, to_float),
    # who and what
    "gen_ai.agent.name": Rule("agent", 2, to_str),
    "agent.name": Rule("agent", 1, to_str),
    "gen_ai.tool.name": Rule("tool", 2, to_str),
    "tool.name": Rule("tool", 1, to_str),
    "gen_ai.tool.call.arguments": Rule("args", 1, _args),
    "gen_ai.conversation.id": Rule("session_id", 2, to_str),
    "session.id": Rule("session_id", 1, to_str),
    "user.id": Rule("user_id", 2, to_str),
    "enduser.id": Rule("user_id", 1, to_str),
    # HTTP (stable names beat the pre-1.20 ones)
    "http.request.method": Rule("method", 2, to_str),
    "http.method": Rule("method", 1, to_str),
    "http.route": Rule("path", 2, to_str),
    "url.path": Rule("path", 1, to_str),
    "http.response.status_code": Rule("status_code", 2, to_int),
    "http.status_code": Rule("status_code", 1, to_int),
    "url.full": Rule("url", 2, to_str),
    "http.url": Rule("url", 1, to_str),
    "error.type": Rule("error_code", 2, to_str),
}

#: Attributes whose whole value is prompt/response text (or documents, tool results):
#: they go to ``data.content`` so the privacy engine hashes them, never to attributes.
CONTENT_KEYS: Final = frozenset(
    {
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.result",
        "gen_ai.retrieval.query.text",
        "gen_ai.retrieval.documents",
        "input.value",
        "output.value",
        "traceloop.entity.input",
        "traceloop.entity.output",
        "llm.function_call",
        "embedding.text",
        "reranker.query",
        # Langfuse's OTel SDKs (Python v3+, JS v4+)
        "langfuse.observation.input",
        "langfuse.observation.output",
        "langfuse.trace.input",
        "langfuse.trace.output",
    }
)

#: Flattened (indexed) content: OpenInference ``llm.input_messages.0.message.content``,
#: OpenLLMetry ``gen_ai.prompt.0.content``. Nothing under these prefixes becomes an
#: attribute; string leaves named in CONTENT_LEAVES are joined into ``data.content``.
CONTENT_PREFIXES: Final = (
    "llm.input_messages.",
    "llm.output_messages.",
    "llm.prompts.",
    "llm.choices.",
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "retrieval.documents.",
    "embedding.embeddings.",
    "reranker.input_documents.",
    "reranker.output_documents.",
)
CONTENT_LEAVES: Final = frozenset(
    {"content", "text", "arguments", "function_call_arguments_json", "prompt", "completion"}
)
#: Semconv names that share a content prefix but are not content.
NOT_CONTENT: Final = frozenset({"gen_ai.prompt.name"})

#: gen_ai.operation.name values (semconv GenAiOperationNameValues) per event type.
LLM_OPERATIONS: Final = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", "completion", "responses"}
)
TOOL_OPERATIONS: Final = frozenset({"execute_tool"})
AGENT_OPERATIONS: Final = frozenset({"invoke_agent", "create_agent", "invoke_workflow"})

#: A span with any of these mapped fields is an LLM call even without an operation name.
LLM_HINT_FIELDS: Final = frozenset(
    {"model", "tokens_in", "tokens_out", "tokens_cache_read", "tokens_reasoning"}
)
