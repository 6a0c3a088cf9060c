"""Test helpers for the web console.

- :func:`console_hub`: a real hub (:class:`~stacklens.testing.HubProcess`) serving the
  console.
- :func:`console_seed_events`: realistic traffic plus handcrafted logs, a trace and a
  second stack, for the browser tests and the page timing bench.
- :func:`csrf_of`, :func:`sign_in_client`: the console's forms from a test client.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, Final

from stacklens.testing import HubProcess

__all__ = [
    "TRACE_ID",
    "console_hub",
    "console_seed_events",
    "csrf_of",
    "sign_in_client",
]

TRACE_ID: Final = "4bf92f3577b34da6a3ce929d0e0e4736"


def csrf_of(html: str) -> str:
    """The first CSRF token of a console page."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    if match is None:
        raise AssertionError(f"no CSRF token in {html[:300]!r}")
    return match.group(1)


def sign_in_client(client: Any, key: str, *, next_url: str = "/") -> Any:
    """Sign ``client`` (a Starlette/httpx client keeping cookies) in with ``key``;
    the ``POST /login`` response."""
    form = client.get("/login")
    return client.post("/login", data={"csrf": csrf_of(form.text), "key": key, "next": next_url})


def console_hub(data_dir: Path, *, env: dict[str, str] | None = None) -> HubProcess:
    """A (not yet started) real hub; ``create_app`` serves the console."""
    return HubProcess(data_dir, env=env)


def console_seed_events(now_ns: int, *, count: int = 3000, seed: int = 8) -> list[dict[str, Any]]:
    """Synthetic sessions over the last 24 h (every demo stack) plus handcrafted
    events: logs that name a session and a trace, a three-level trace and an error."""
    from stacklens.testing.fleet import synthetic_events

    rng = random.Random(seed)
    hour = 3600 * 10**9
    events = list(synthetic_events(rng, now_ns - 24 * hour, now_ns - 60 * 10**9, count))
    t0 = now_ns - 20 * 60 * 10**9
    session = "sess_console_handmade"
    handmade: list[dict[str, Any]] = [
        {
            "event_id": "hand-start",
            "timestamp": t0,
            "stack_name": "acme-chat",
            "event_type": "session_start",
            "session_id": session,
            "user_id": "ana@example.com",
            "data": {"agent": "oracle", "model": "gpt-4o-mini"},
        },
        {
            "event_id": "hand-msg",
            "timestamp": t0 + 10**9,
            "stack_name": "acme-chat",
            "event_type": "message",
            "session_id": session,
            "trace_id": TRACE_ID,
            "data": {
                "role": "user",
                "content": "please summarise the quarterly plan",
                "model": "gpt-4o-mini",
                "agent": "oracle",
            },
        },
        {
            "event_id": "hand-span-root",
            "timestamp": t0 + 2 * 10**9,
            "stack_name": "acme-chat",
            "event_type": "span",
            "session_id": session,
            "trace_id": TRACE_ID,
            "span_id": "a1a1a1a1a1a1a1a1",
            "message": "POST /chat",
            "data": {"duration_ms": 1500.0},
        },
        {
            "event_id": "hand-span-llm",
            "timestamp": t0 + 2 * 10**9 + 10**8,
            "stack_name": "acme-chat",
            "event_type": "llm_call",
            "session_id": session,
            "trace_id": TRACE_ID,
            "span_id": "b2b2b2b2b2b2b2b2",
            "parent_span_id": "a1a1a1a1a1a1a1a1",
            "data": {
                "model": "gpt-4o-mini",
                "provider": "openai",
                "agent": "oracle",
                "tokens_in": 1200,
                "tokens_out": 300,
                "duration_ms": 900.0,
                "success": True,
            },
        },
        {
            "event_id": "hand-span-tool",
            "timestamp": t0 + 2 * 10**9 + 2 * 10**8,
            "stack_name": "acme-chat",
            "event_type": "tool_use",
            "session_id": session,
            "trace_id": TRACE_ID,
            "span_id": "c3c3c3c3c3c3c3c3",
            "parent_span_id": "b2b2b2b2b2b2b2b2",
            "data": {"tool": "read", "agent": "oracle", "duration_ms": 120.0, "success": True},
        },
        {
            "event_id": "hand-log-1",
            "timestamp": t0 + 3 * 10**9,
            "stack_name": "acme-chat",
            "event_type": "log",
            "level": "info",
            "service": "chat-api",
            "session_id": session,
            "trace_id": TRACE_ID,
            "span_id": "a1a1a1a1a1a1a1a1",
            "message": "handcrafted request handled <b>ok</b>",
        },
        {
            "event_id": "hand-log-2",
            "timestamp": t0 + 4 * 10**9,
            "stack_name": "acme-chat",
            "event_type": "log",
            "level": "error",
            "service": "chat-api",
            "session_id": session,
            "trace_id": TRACE_ID,
            "message": "handcrafted upstream timeout",
        },
        {
            "event_id": "hand-log-3",
            "timestamp": t0 + 5 * 10**9,
            "stack_name": "john-dev",
            "event_type": "log",
            "level": "warn",
            "service": "opencode",
            "message": "john-dev private log line",
        },
        {
            "event_id": "hand-end",
            "timestamp": t0 + 6 * 10**9,
            "stack_name": "acme-chat",
            "event_type": "session_end",
            "session_id": session,
            "data": {"agent": "oracle"},
        },
    ]
    return events + handmade
