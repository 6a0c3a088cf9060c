"""A provider's raw token usage → the event contract's token fields.

The contract (one definition, used by pricing, rollups, budgets and the console):

- ``tokens_in``: **every** input token of the call — uncached, cache reads and cache
  writes together (the OpenAI ``prompt_tokens`` and OpenTelemetry GenAI
  ``gen_ai.usage.input_tokens`` convention).
- ``tokens_cache_read`` / ``tokens_cache_write``: the parts of ``tokens_in`` read from
  or written to the prompt cache (subsets, never added on top).
- ``tokens_out``: every output token, reasoning included; ``tokens_reasoning`` is the
  part of ``tokens_out`` spent reasoning (priced as output, never added on top).

Providers count differently, so a client that sends the provider's own usage object as
``data.usage`` gets it converted here, by the object's shape (its key names), never by
guessing from the numbers:

- Anthropic Messages: ``input_tokens`` excludes ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens`` → ``tokens_in`` is their sum.
- OpenAI Chat Completions: ``prompt_tokens`` includes
  ``prompt_tokens_details.cached_tokens``; ``completion_tokens`` includes
  ``completion_tokens_details.reasoning_tokens`` → taken as they are.
- OpenAI Responses: ``input_tokens`` includes ``input_tokens_details.cached_tokens``;
  ``output_tokens`` includes ``output_tokens_details.reasoning_tokens``.

Explicit ``data.tokens_*`` fields sent by the client win over ``data.usage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["USAGE_KEY", "apply_raw_usage", "from_raw_usage"]

#: The ``data`` key a client puts the provider's raw usage object under.
USAGE_KEY: Final = "usage"
_TOKEN_FIELDS: Final = (
    "tokens_in",
    "tokens_out",
    "tokens_cache_read",
    "tokens_cache_write",
    "tokens_reasoning",
)
_ANTHROPIC_CACHE_KEYS: Final = frozenset({"cache_read_input_tokens", "cache_creation_input_tokens"})


def _count(value: Any) -> int | None:
    """A non-negative integer count, or ``None`` (a malformed count is ignored, not
    guessed at)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 2**63 else None
    if isinstance(value, float) and value.is_integer() and 0 <= value < 2**63:
        return int(value)
    return None


def _detail(usage: Mapping[str, Any], block: str, key: str) -> int | None:
    details = usage.get(block)
    return _count(details.get(key)) if isinstance(details, Mapping) else None


def _anthropic(usage: Mapping[str, Any]) -> dict[str, int | None]:
    uncached = _count(usage.get("input_tokens"))
    read = _count(usage.get("cache_read_input_tokens"))
    write = _count(usage.get("cache_creation_input_tokens"))
    parts = [c for c in (uncached, read, write) if c is not None]
    return {
        "tokens_in": sum(parts) if parts else None,
        "tokens_out": _count(usage.get("output_tokens")),
        "tokens_cache_read": read,
        "tokens_cache_write": write,
        "tokens_reasoning": None,
    }


def _openai_chat(usage: Mapping[str, Any]) -> dict[str, int | None]:
    return {
        "tokens_in": _count(usage.get("prompt_tokens")),
        "tokens_out": _count(usage.get("completion_tokens")),
        "tokens_cache_read": _detail(usage, "prompt_tokens_details", "cached_tokens"),
        "tokens_cache_write": None,
        "tokens_reasoning": _detail(usage, "completion_tokens_details", "reasoning_tokens"),
    }


def _openai_responses(usage: Mapping[str, Any]) -> dict[str, int | None]:
    return {
        "tokens_in": _count(usage.get("input_tokens")),
        "tokens_out": _count(usage.get("output_tokens")),
        "tokens_cache_read": _detail(usage, "input_tokens_details", "cached_tokens"),
        "tokens_cache_write": None,
        "tokens_reasoning": _detail(usage, "output_tokens_details", "reasoning_tokens"),
    }


def from_raw_usage(usage: Mapping[str, Any], provider: str | None) -> dict[str, int]:
    """The contract's token fields for one raw usage object (only those it gives)."""
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        found = _openai_chat(usage)
    elif "input_tokens_details" in usage or "output_tokens_details" in usage:
        found = _openai_responses(usage)
    elif _ANTHROPIC_CACHE_KEYS & usage.keys() or (provider or "").lower() == "anthropic":
        found = _anthropic(usage)
    else:
        # ``{input_tokens, output_tokens}`` with no cache detail: both conventions agree.
        found = _openai_responses(usage)
    return {k: v for k, v in found.items() if v is not None}


def apply_raw_usage(data: dict[str, Any]) -> None:
    """Fill ``data.tokens_*`` from ``data.usage`` where the client sent none; the raw
    object stays (it becomes attributes) so nothing the client sent is lost."""
    usage = data.get(USAGE_KEY)
    if usage is None or not isinstance(usage, Mapping):  # (None first: no ABC check)
        return
    if any(data.get(name) is not None for name in _TOKEN_FIELDS):
        return  # the client already spoke the contract; its fields win
    provider = data.get("provider")
    data.update(from_raw_usage(usage, provider if isinstance(provider, str) else None))
