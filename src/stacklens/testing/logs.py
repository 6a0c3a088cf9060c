"""A small, hand-countable log dataset for the Loki query API, pushed through the real
ingest doors (Loki push and native events), and the clock it needs."""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["T0_NS", "TRACE", "push_loki", "seed_logs"]

#: 2026-01-10T12:00:00Z: every line of the dataset is a few seconds after it.
T0_NS: Final = 1_768_046_400 * 10**9
TRACE: Final = "4bf92f3577b34da6a3ce929d0e0e4736"
_S: Final = 10**9


def push_loki(
    client: Any, stack: str, labels: dict[str, str], lines: list[tuple[int, str]]
) -> None:
    """Push one stream through ``POST /loki/api/v1/push`` (JSON) as ``stack``."""
    body = {"streams": [{"stream": labels, "values": [[str(ts), line] for ts, line in lines]}]}
    response = client.post("/loki/api/v1/push", json=body, headers={"X-Scope-OrgID": stack})
    assert response.status_code == 204, response.text


def _j(**fields: Any) -> str:
    return json.dumps(fields, separators=(",", ":"))


def seed_logs(hub: Any, client: Any) -> None:
    """Seed 002's gateway logs (stack ``prod``) and seed 004's samosaChaat logs (stack
    ``samosachaat``), then make them queryable. Times are ``T0_NS`` + seconds."""
    t = T0_NS
    push_loki(
        client,
        "prod",
        {"service": "gateway"},
        [
            (
                t + 10 * _S,
                _j(level="info", message="request done", agent="daily_brief", duration_ms=1200),
            ),
            (
                t + 20 * _S,
                _j(
                    level="error",
                    message="ERROR upstream timeout",
                    agent="daily_brief",
                    duration_ms=7000,
                ),
            ),
            (
                t + 70 * _S,
                _j(level="info", message="request done", agent="researcher", duration_ms=5001),
            ),
            (t + 130 * _S, "ERROR: connection reset"),
            (t + 200 * _S, _j(level="info", message="ok", agent="researcher", duration_ms=5000)),
        ],
    )
    push_loki(
        client,
        "prod",
        {"service": "worker"},
        [
            (t + 50 * _S, 'level=info msg="slow job" latency=2.5s'),
            (t + 60 * _S, 'level=info msg="fast job" latency=900ms'),
        ],
    )
    native = {
        "event_id": "n1",
        "timestamp": t + 100 * _S,
        "stack_name": "prod",
        "event_type": "llm_call",
        "service": "gateway",
        "data": {"model": "gpt-4o-mini", "duration_ms": 6000, "tokens_in": 10},
    }
    assert client.post("/v1/events", json=[native]).json()["accepted"] == 1
    prod = {"namespace": "samosachaat-prod"}
    push_loki(
        client,
        "samosachaat",
        {**prod, "app": "auth", "service": "auth"},
        [
            (
                t + 5 * _S,
                _j(
                    level="error",
                    service="auth",
                    message="oauth failed",
                    path="/auth/oauth/google",
                    status_code=429,
                    trace_id=TRACE,
                ),
            ),
            (
                t + 15 * _S,
                _j(
                    level="info",
                    service="auth",
                    message="login",
                    path="/auth/login",
                    status_code=200,
                ),
            ),
            (
                t + 25 * _S,
                _j(
                    level="error",
                    service="auth",
                    message="token invalid",
                    path="/auth/oauth/github",
                    status_code=500,
                ),
            ),
        ],
    )
    push_loki(
        client,
        "samosachaat",
        {**prod, "app": "inference", "service": "inference"},
        [
            (
                t + 30 * _S,
                _j(
                    level="info",
                    service="inference",
                    message="generated",
                    inference_time_ms=6500,
                    trace_id=TRACE,
                ),
            ),
            (
                t + 40 * _S,
                _j(level="info", service="inference", message="generated", inference_time_ms=3000),
            ),
        ],
    )
    push_loki(
        client,
        "samosachaat",
        {**prod, "app": "chat-api", "service": "chat-api"},
        [
            (
                t + 35 * _S,
                _j(
                    level="error",
                    service="chat-api",
                    message="upstream failed",
                    status_code=502,
                    trace_id=TRACE,
                ),
            )
        ],
    )
    push_loki(
        client,
        "samosachaat",
        {"namespace": "samosachaat-staging", "app": "auth", "service": "auth"},
        [
            (
                t + 45 * _S,
                _j(
                    level="error",
                    service="auth",
                    message="oauth failed",
                    path="/auth/oauth/google",
                    status_code=503,
                ),
            )
        ],
    )
    hub.flush()
