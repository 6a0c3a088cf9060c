"""Langfuse usage and cost objects → the contract's token and cost fields.

Langfuse has two shapes. ``usage`` (the v2 SDKs) is ``{input, output, total, unit,
inputCost, outputCost, totalCost}`` or OpenAI's ``{promptTokens, completionTokens,
totalTokens}``. ``usageDetails`` (and the OTel attribute
``langfuse.observation.usage_details``) is a free map whose keys Langfuse treats as
disjoint parts that sum to ``total``: ``input``, ``output``, and details such as
``cache_read_input_tokens``, ``input_cached_tokens``, ``input_cache_creation``,
``output_reasoning_tokens``.

The contract's ``tokens_in`` is *all* input, cache reads and writes included, and
``tokens_out`` all output, reasoning included (:data:`stacklens.event_schema.TOKEN_DOCS`).
So ``tokens_in`` is the sum of every input-side part and the cache counts are its parts;
a ``total`` alone (no input/output split) is not guessed into either side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from stacklens.ingest.otlp.semconv import to_float, to_int

__all__ = ["cost_fields", "token_fields"]

#: Legacy ``usage`` names (OpenAI camelCase and snake_case) → the disjoint-part names.
_ALIASES: Final = {
    "promptTokens": "input",
    "prompt_tokens": "input",
    "completionTokens": "output",
    "completion_tokens": "output",
    "totalTokens": "total",
    "total_tokens": "total",
    "input_tokens": "input",
    "output_tokens": "output",
}
#: Not token counts (units and the legacy usage object's costs).
_NOT_TOKENS: Final = frozenset({"unit", "inputCost", "outputCost", "totalCost", "total"})


def _side(key: str) -> str | None:
    """Which side of the call a usage key counts: ``in``, ``out`` or neither."""
    if key == "input" or key.startswith("input_") or key.endswith("_input_tokens"):
        return "in"
    if key.startswith("cache_"):
        return "in"  # cache_read / cache_creation are input-side everywhere
    if key == "output" or key.startswith("output_") or key.endswith("_output_tokens"):
        return "out"
    return None


def token_fields(*usages: Any) -> dict[str, int]:
    """The ``tokens_*`` fields of the first usage object that has any token count."""
    for usage in usages:
        fields = _tokens(usage)
        if fields:
            return fields
    return {}


def _tokens(usage: Any) -> dict[str, int]:
    if not isinstance(usage, Mapping):
        return {}
    parts: dict[str, int] = {}
    for raw_key, value in usage.items():
        if not isinstance(raw_key, str) or raw_key in _NOT_TOKENS:
            continue
        count = to_int(value)
        if count is None or count < 0:
            continue
        key = _ALIASES.get(raw_key, raw_key)
        parts[key] = parts.get(key, 0) + count
    tokens_in = sum(v for k, v in parts.items() if _side(k) == "in")
    tokens_out = sum(v for k, v in parts.items() if _side(k) == "out")
    has_in = any(_side(k) == "in" for k in parts)
    has_out = any(_side(k) == "out" for k in parts)
    out: dict[str, int] = {}
    if has_in:
        out["tokens_in"] = tokens_in
    if has_out:
        out["tokens_out"] = tokens_out
    cache_read = sum(v for k, v in parts.items() if _side(k) == "in" and _is_cache_read(k))
    cache_write = sum(v for k, v in parts.items() if _side(k) == "in" and _is_cache_write(k))
    reasoning = sum(v for k, v in parts.items() if _side(k) == "out" and "reasoning" in k)
    if cache_read:
        out["tokens_cache_read"] = cache_read
    if cache_write:
        out["tokens_cache_write"] = cache_write
    if reasoning:
        out["tokens_reasoning"] = reasoning
    return out


def _is_cache_read(key: str) -> bool:
    return "cache_read" in key or "cached" in key


def _is_cache_write(key: str) -> bool:
    return "cache_creation" in key or "cache_write" in key


def cost_fields(cost_details: Any, usage: Any = None) -> dict[str, float]:
    """``cost_usd`` from ``costDetails`` (``total``, else the sum of its parts) or the
    legacy usage object's ``totalCost`` / ``inputCost + outputCost``; ``{}`` if neither
    (the hub's pricer then prices the model and tokens)."""
    if isinstance(cost_details, Mapping) and cost_details:
        total = to_float(cost_details.get("total"))
        if total is not None:
            return {"cost_usd": total}
        parts = [to_float(v) for k, v in cost_details.items() if isinstance(k, str)]
        known = [p for p in parts if p is not None]
        if known:
            return {"cost_usd": sum(known)}
    if isinstance(usage, Mapping):
        total = to_float(usage.get("totalCost"))
        if total is not None:
            return {"cost_usd": total}
        pieces = [to_float(usage.get("inputCost")), to_float(usage.get("outputCost"))]
        known = [p for p in pieces if p is not None]
        if known:
            return {"cost_usd": sum(known)}
    return {}
