"""Shared definitions of the analytics side, in SQL over one event row.

These are the product's documented meanings (README "Analytics definitions"):

- **error**: an ``error`` event, a ``log`` event at level error/fatal/critical, or an
  ``llm_call``/``tool_use`` with ``success = false``.
- **error rate**: errors / requests, where requests are ``message``, ``llm_call`` and
  ``tool_use`` events (``null`` when there were none).
- **unpriced**: an event with a model and token counts but no cost (neither sent by
  the client nor found in the price list); counted and listed, never priced at zero.
- **active stack**: any event within the last 15 minutes (``window`` parameter).
- **stack up**: any event (heartbeats included) within the heartbeat window, 5 min.
- **stack down**: only a stack that has shown a regular heartbeat
  (:mod:`stacklens.analytics.heartbeats`) and went silent; any other stack is unknown.
- **active session**: a session without ``session_end`` whose last event is within
  the last 30 minutes.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACTIVE_SESSION_WINDOW_S",
    "ACTIVE_STACK_WINDOW_S",
    "DURATION_BUCKETS",
    "HEARTBEAT_WINDOW_S",
    "IS_ERROR",
    "IS_REQUEST",
    "IS_UNPRICED",
    "LABEL_CAP",
    "TOKEN_DIRECTIONS",
    "duration_bucket_case",
]

ACTIVE_STACK_WINDOW_S: Final = 15 * 60
HEARTBEAT_WINDOW_S: Final = 5 * 60
ACTIVE_SESSION_WINDOW_S: Final = 30 * 60
#: Distinct model/agent/tool/role label values kept per stack in /metrics; later
#: newcomers are reported as "other" (a value keeps its label forever once given).
LABEL_CAP: Final = 50

IS_ERROR: Final = (
    "(event_type = 'error' "
    "OR (event_type = 'log' AND lower(level) IN ('error', 'fatal', 'critical')) "
    "OR (event_type IN ('llm_call', 'tool_use') AND success = false))"
)
IS_REQUEST: Final = "(event_type IN ('message', 'llm_call', 'tool_use'))"
_HAS_TOKENS: Final = (
    "(tokens_in IS NOT NULL OR tokens_out IS NOT NULL "
    "OR tokens_cache_read IS NOT NULL OR tokens_cache_write IS NOT NULL)"
)
IS_UNPRICED: Final = f"(model IS NOT NULL AND cost_usd IS NULL AND {_HAS_TOKENS})"

#: (direction label, events column) of ``opencode_tokens_total``.
TOKEN_DIRECTIONS: Final = (
    ("input", "tokens_in"),
    ("output", "tokens_out"),
    ("cache_read", "tokens_cache_read"),
    ("cache_write", "tokens_cache_write"),
    ("reasoning", "tokens_reasoning"),
)

#: Upper bounds (seconds) of ``opencode_response_duration_seconds`` (seed 000 §3.3).
DURATION_BUCKETS: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)


def duration_bucket_case(ms_expr: str) -> str:
    """SQL: the bucket label ('0.5', '1', ..., '+Inf') of a duration in milliseconds."""
    arms = " ".join(
        f"WHEN {ms_expr} <= {bound * 1000:g} THEN '{bound:g}'" for bound in DURATION_BUCKETS
    )
    return f"CASE {arms} ELSE '+Inf' END"
