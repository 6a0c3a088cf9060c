"""A small hand-checked dataset: two stacks, two sessions, on 2026-01-10.

Every expected figure in the analytics tests is computed by hand from this list
(prices: gpt-4o-mini $0.15 in / $0.60 out / $0.075 cache read per MTok; Claude Sonnet 4
$3 in / $15 out; llama-3.3-8b unknown to genai-prices).
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "ALPHA_COST",
    "COST_CLAUDE",
    "COST_CLIENT",
    "COST_MINI_1",
    "COST_MINI_BETA",
    "DAY",
    "NOW_NS",
    "TOTAL_COST",
    "events",
]

#: 2026-01-10T11:45:00Z — the injected clock.
NOW_NS: Final = 1_768_045_500 * 10**9
DAY: Final = "2026-01-10"

COST_MINI_1: Final = (800 * 0.15 + 500 * 0.60 + 200 * 0.075) / 1e6  # 0.000435
COST_CLAUDE: Final = (2000 * 3 + 1000 * 15) / 1e6  # 0.021
COST_CLIENT: Final = 0.5  # client-sent, wins
COST_MINI_BETA: Final = (4000 * 0.15 + 1000 * 0.60) / 1e6  # 0.0012
ALPHA_COST: Final = COST_MINI_1 + COST_CLAUDE + COST_CLIENT
TOTAL_COST: Final = ALPHA_COST + COST_MINI_BETA


def _e(n: int, time: str, stack: str, event_type: str, **fields: Any) -> dict[str, Any]:
    session, user = ("s1", "alice") if stack == "alpha" else ("s2", "bob")
    return {
        "event_id": f"ev{n:02d}",
        "timestamp": f"{DAY}T{time}Z",
        "stack_name": stack,
        "session_id": session,
        "user_id": user,
        "event_type": event_type,
        **fields,
    }


def events() -> list[dict[str, Any]]:
    mini = {"provider": "openai", "model": "gpt-4o-mini", "agent": "sisyphus"}
    return [
        _e(1, "10:00:00", "alpha", "session_start"),
        _e(
            2,
            "10:00:10",
            "alpha",
            "message",
            data={"role": "user", "content": "hello", "model": "gpt-4o-mini", "agent": "sisyphus"},
        ),
        _e(
            3,
            "10:00:20",
            "alpha",
            "llm_call",
            data={
                **mini,
                "tokens_in": 1000,
                "tokens_out": 500,
                "tokens_cache_read": 200,
                "duration_ms": 1000,
                "success": True,
            },
        ),
        _e(
            4,
            "10:00:30",
            "alpha",
            "tool_use",
            data={"tool": "bash", "agent": "sisyphus", "success": True, "duration_ms": 100},
        ),
        _e(
            5,
            "10:00:40",
            "alpha",
            "tool_use",
            data={"tool": "bash", "agent": "sisyphus", "success": False, "duration_ms": 300},
        ),
        _e(
            6,
            "10:00:50",
            "alpha",
            "message",
            data={
                "role": "assistant",
                "content": "hi",
                "model": "gpt-4o-mini",
                "agent": "sisyphus",
            },
        ),
        _e(
            7,
            "10:01:00",
            "alpha",
            "llm_call",
            data={
                "provider": "anthropic",
                "model": "claude-sonnet-4-20250514",
                "agent": "sisyphus",
                "tokens_in": 2000,
                "tokens_out": 1000,
                "duration_ms": 3000,
                "success": False,
            },
        ),
        _e(
            8,
            "10:01:10",
            "alpha",
            "error",
            level="error",
            message="tool bash failed",
            data={"error_code": "tool_failed"},
        ),
        _e(
            9,
            "10:30:00",
            "alpha",
            "llm_call",
            data={
                **mini,
                "tokens_in": 100,
                "tokens_out": 50,
                "cost_usd": COST_CLIENT,
                "duration_ms": 5000,
                "success": True,
            },
        ),
        _e(
            10,
            "11:00:00",
            "alpha",
            "llm_call",
            data={
                "provider": "meta",
                "model": "llama-3.3-8b",
                "agent": "sisyphus",
                "tokens_in": 300,
                "tokens_out": 100,
                "duration_ms": 7000,
                "success": True,
            },
        ),
        _e(11, "11:05:00", "alpha", "session_end"),
        _e(12, "11:00:00", "beta", "session_start"),
        _e(
            13,
            "11:10:00",
            "beta",
            "llm_call",
            data={
                "provider": "openai",
                "model": "gpt-4o-mini",
                "agent": "oracle",
                "tokens_in": 4000,
                "tokens_out": 1000,
                "duration_ms": 2000,
                "success": True,
            },
        ),
        _e(
            14,
            "11:20:00",
            "beta",
            "message",
            data={"role": "user", "content": "q", "model": "gpt-4o-mini", "agent": "oracle"},
        ),
        _e(15, "11:40:00", "beta", "heartbeat", service="opencode"),
    ]
