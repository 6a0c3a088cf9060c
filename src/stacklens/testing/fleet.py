"""Realistic synthetic traffic from several AI stacks.

Used by ``stacklens demo`` (so a newcomer sees data at once), by the benchmarks and by
tests. Pure: a seeded ``random.Random`` and a start time in, events out.

``stacklens demo`` sends :func:`demo_events` — history whose newest sessions end a
minute or two before now, so the fleet looks recently busy rather than stale — and
with ``--live`` keeps a :class:`LiveFleet` trickle going: a steady heartbeat per stack
and sessions playing out in real time. Only that heartbeat makes a demo stack one whose
silence counts as "down" (:mod:`stacklens.analytics.heartbeats`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any, Final

__all__ = [
    "DEMO_SERVICE",
    "DEMO_STACKS",
    "MODELS",
    "LiveFleet",
    "demo_events",
    "session_events",
    "synthetic_events",
]

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
#: The service whose heartbeat a live demo stack sends.
DEMO_SERVICE: Final = "opencode"
#: Each stack's newest session ends between these many seconds before "now".
_RECENT_END_S: Final = (5, 120)
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
    uses (some failing), occasional errors, end. No heartbeats: a heartbeat is the
    service's steady "I am alive" (:class:`LiveFleet` sends them), and per-turn pings
    that stop with the session would read as a service going down."""
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


def _shifted(events: list[dict[str, Any]], end_ns: int) -> list[dict[str, Any]]:
    """The session moved in time so that its last event is at ``end_ns``."""
    shift = end_ns - events[-1]["timestamp"]
    for event in events:
        event["timestamp"] += shift
    return events


def demo_events(
    rng: random.Random,
    now_ns: int,
    count: int,
    hours: float,
    stacks: tuple[str, ...] = DEMO_STACKS,
) -> list[dict[str, Any]]:
    """``count`` events for ``stacklens demo``, oldest first: one short session per stack
    that ended within the last two minutes, and whole sessions spread over the ``hours``
    before them. Every session ends (only the oldest may lose its first events to make
    the count exact)."""
    closing: list[dict[str, Any]] = []
    for stack in stacks:
        session = session_events(rng, stack, 0, turns=rng.randrange(1, 3))
        end = now_ns - rng.randrange(*_RECENT_END_S) * 10**9
        closing.extend(_shifted(session, end))
    first = min(e["timestamp"] for e in closing)
    start = min(now_ns - int(hours * 3600e9), first - 1)
    older: list[dict[str, Any]] = []
    while len(older) + len(closing) < count:
        session = session_events(rng, rng.choice(stacks), start + rng.randrange(first - start))
        if session[-1]["timestamp"] >= first:
            session = _shifted(session, first - rng.randrange(1, 600) * 10**9)
        older.extend(session)
    events = sorted(older + closing, key=lambda e: (e["timestamp"], e["event_id"]))
    return events[len(events) - count :] if count < len(events) else events


class LiveFleet:
    """The trickle of ``stacklens demo --live``. Each :meth:`tick` (call it every few
    seconds) gives every stack's service a heartbeat and releases the session events
    that have come due; an idle stack starts a new session now and then."""

    def __init__(
        self,
        rng: random.Random,
        stacks: tuple[str, ...] = DEMO_STACKS,
        *,
        session_chance: float = 0.3,
    ) -> None:
        self._rng = rng
        self._session_chance = session_chance
        self._queued: dict[str, list[dict[str, Any]]] = {stack: [] for stack in stacks}

    def tick(self, now_ns: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for stack, queued in self._queued.items():
            out.append(
                {
                    # time-based: a rerun with the same --seed is not deduplicated away
                    "event_id": f"{stack}-heartbeat-{now_ns}",
                    "timestamp": now_ns,
                    "stack_name": stack,
                    "event_type": "heartbeat",
                    "service": DEMO_SERVICE,
                }
            )
            if not queued and self._rng.random() < self._session_chance:
                queued.extend(session_events(self._rng, stack, now_ns))
            due = [e for e in queued if e["timestamp"] <= now_ns]
            del queued[: len(due)]
            out.extend(due)
        return out
