"""Realistic synthetic traffic from several AI stacks.

Used by ``stacklens demo`` (so a newcomer sees data at once), by the benchmarks and by
tests. Pure: a seeded ``random.Random`` and a start time in, events out.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any, Final

__all__ = ["DEMO_STACKS", "MODELS", "session_events", "synthetic_events"]

DEMO_STACKS: Final = ("john-dev", "acme-chat", "gateway-prod", "research-lab")
#: (provider, model, mean response seconds); every one has a genai-prices price, so the
#: demo's costs are real figures (an unpriced model would show as "unpriced").
MODELS: Final = (
    ("anthropic", "claude-sonnet-4-20250514", 6.0),
    ("openai", "gpt-4o-mini", 2.5),
    ("openai", "gpt-4.1", 5.0),
    ("google", "gemini-2.5-flash", 4.0),
    ("groq", "llama-3.3-70b-versatile", 1.2),
)
AGENTS: Final = ("sisyphus", "oracle", "librarian", "explore")
TOOLS: Final = ("bash", "read", "edit", "write", "grep", "webfetch", "git")
_SENTENCE: Final = (
    "refactor the parser so that errors carry line numbers and add a test for the empty input "
    "case then run the suite again and summarize what failed"
)
_WORDS: Final = tuple(_SENTENCE.split(" "))
_FILES: Final = (
    "src/app.ts",
    "src/server/index.ts",
    "tests/test_api.py",
    "README.md",
    "lib/util.go",
)
_COMMANDS: Final = ("npm test", "git status", "pytest -q tests", "ls -la src", "cargo build")


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def session_events(
    rng: random.Random, stack: str, start_ns: int, *, turns: int | None = None
) -> list[dict[str, Any]]:
    """One coding-agent session: start, user/assistant turns with LLM calls and tool
    uses (some failing), heartbeats, occasional errors, end."""
    session = f"sess_{rng.getrandbits(48):012x}"
    user = f"user{rng.randrange(1, 12)}@example.com"
    provider, model, mean_s = rng.choice(MODELS)
    agent = rng.choice(AGENTS)
    t = start_ns
    events: list[dict[str, Any]] = []

    def add(event_type: str, **fields: Any) -> None:
        nonlocal t
        t += rng.randrange(50, 4000) * 1_000_000
        data = fields.pop("data", None)
        event: dict[str, Any] = {
            "event_id": f"{stack}-{session}-{len(events)}",
            "timestamp": t,
            "stack_name": stack,
            "session_id": session,
            "user_id": user,
            "event_type": event_type,
            **fields,
        }
        if data:
            event["data"] = data
        events.append(event)

    add("session_start", data={"agent": agent, "model": model})
    for _ in range(turns if turns is not None else rng.randrange(2, 7)):
        prompt = _text(rng, rng.randrange(5, 40))
        add("message", data={"role": "user", "content": prompt, "model": model, "agent": agent})
        tokens_in = rng.randrange(300, 6000)
        tokens_out = rng.randrange(50, 1500)
        duration = max(0.2, rng.gauss(mean_s, mean_s / 3))
        add(
            "llm_call",
            data={
                "provider": provider,
                "model": model,
                "agent": agent,
                "tokens_in": tokens_in,
                "tokens_out": tokens_out,
                "tokens_cache_read": rng.randrange(0, tokens_in),
                "duration_ms": round(duration * 1000, 1),
                "success": rng.random() > 0.03,
            },
        )
        for _ in range(rng.randrange(0, 4)):
            tool = rng.choice(TOOLS)
            data: dict[str, Any] = {
                "tool": tool,
                "agent": agent,
                "success": rng.random() > 0.08,
                "duration_ms": rng.randrange(5, 3000),
                "args": {"path": rng.choice(_FILES)},
            }
            if tool == "bash":
                data["command"] = rng.choice(_COMMANDS)
            elif tool in ("read", "edit", "write"):
                home = user.split("@", maxsplit=1)[0]
                data["file_path"] = f"/home/{home}/project/{rng.choice(_FILES)}"
            elif tool == "webfetch":
                data["url"] = "https://docs.example.com/guide?page=2"
            add("tool_use", data=data)
        add(
            "message",
            data={
                "role": "assistant",
                "content": _text(rng, rng.randrange(20, 120)),
                "model": model,
                "agent": agent,
            },
        )
        if rng.random() < 0.05:
            add(
                "error",
                level="error",
                message="tool bash exited with status 1",
                data={"error_code": "tool_failed"},
            )
        add("heartbeat", service="opencode")
    add("session_end", data={"agent": agent})
    return events


def synthetic_events(
    rng: random.Random,
    start_ns: int,
    end_ns: int,
    count: int,
    stacks: tuple[str, ...] = DEMO_STACKS,
) -> Iterator[dict[str, Any]]:
    """About ``count`` events from sessions spread between ``start_ns`` and ``end_ns``."""
    produced = 0
    span = max(1, end_ns - start_ns)
    while produced < count:
        start = start_ns + rng.randrange(span)
        for event in session_events(rng, rng.choice(stacks), start):
            if event["timestamp"] > end_ns:
                break
            yield event
            produced += 1
            if produced >= count:
                return
