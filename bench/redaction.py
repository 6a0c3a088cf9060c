"""Redaction cost per event on a realistic mixed event set (one core).

Run: ``.venv/bin/python bench/redaction.py [--events N]``

The set mixes what a fleet of AI stacks sends: chat messages (content hashed), LLM
calls with GenAI attributes, tool uses (bash commands, file paths, URLs, args), logs
with ``key=value`` context, errors with tracebacks, HTTP requests and heartbeats. Ids
are unique per event (as in production, so no cache hides the scan of an id), and about
1 event in 50 carries a planted secret. It also prints the false-positive rate over the
innocuous corpus (``stacklens.testing.secrets.false_positives``, the measure its test
asserts).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from typing import Any

from stacklens.privacy import PrivacyPolicy, Redactor
from stacklens.testing.secrets import SECRETS, false_positives

MODELS = ["claude-3-5-sonnet-20241022", "gpt-4o-mini", "gpt-4o", "llama-3.1-70b-versatile"]
STACKS = ["support-bot", "code-agent", "rag-search", "voice-assistant"]
WORDS = [
    "the",
    "user",
    "asked",
    "about",
    "billing",
    "plans",
    "and",
    "assistant",
    "explained",
    "how",
    "invoices",
    "are",
    "generated",
    "each",
    "month",
    "with",
    "a",
    "summary",
    "of",
    "usage",
    "per",
    "project",
    "team",
]
LOG_TEMPLATES = [
    "llm call finished model={model} tokens_in={a} tokens_out={b} duration_ms={c}",
    "retrieved {a} chunks from index docs-v3 in {c} ms",
    "cache miss for session, rebuilding context ({a} messages)",
    "tool Bash exited with status 0 after {c} ms",
    "GET /v1/chat/completions 200 in {c}ms",
    "rate limit reached, retrying in {a}s (attempt 2/5)",
]
COMMANDS = [
    "git status && git diff --stat",
    "npm test -- --watch=false | tail -n 20",
    "cd /home/alice/project && pytest -q tests/ 2>&1 | tee out.log",
    "FOO=1 python scripts/build.py --release",
]
PATHS = ["/home/alice/project/src/app.ts", "/Users/bob/code/api/main.py", "/srv/app/README.md"]


def _ulid(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(26))


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def make_events(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for index in range(count):
        kind = rng.choices(
            ["message", "llm_call", "tool_use", "log", "error", "http_request", "heartbeat"],
            weights=[30, 20, 15, 20, 5, 5, 5],
        )[0]
        event: dict[str, Any] = {
            "event_id": _ulid(rng),
            "timestamp": 1_732_000_000_000_000_000 + index * 1_000_000,
            "stack_name": rng.choice(STACKS),
            "event_type": kind,
            "session_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "trace_id": f"{rng.getrandbits(128):032x}",
            "span_id": f"{rng.getrandbits(64):016x}",
            "user_id": f"user-{rng.randint(1, 500)}",
            "service": "chat-api",
            "level": "info",
            "data": {},
            "attributes": {"deployment.environment": "prod", "region": "eu-west-1"},
        }
        data = event["data"]
        model = rng.choice(MODELS)
        if kind == "message":
            data.update(
                role=rng.choice(["user", "assistant"]),
                model=model,
                content=_text(rng, 5, 60),
                agent="support",
            )
            event["message"] = "message received"
        elif kind == "llm_call":
            data.update(
                model=model,
                provider="anthropic",
                tokens_in=rng.randint(10, 9000),
                tokens_out=rng.randint(10, 900),
                cost_usd=0.0012,
                duration_ms=812.5,
            )
            event["attributes"].update(
                {
                    "gen_ai.request.model": model,
                    "gen_ai.usage.input_tokens": data["tokens_in"],
                    "gen_ai.usage.output_tokens": data["tokens_out"],
                    "llm.token_count.prompt": data["tokens_in"],
                }
            )
        elif kind == "tool_use":
            data.update(
                tool=rng.choice(["Bash", "Read", "WebFetch"]),
                success=True,
                duration_ms=41.0,
                args={"timeout": 120, "description": "run tests"},
            )
            if data["tool"] == "Bash":
                data["command"] = rng.choice(COMMANDS)
            elif data["tool"] == "Read":
                data["file_path"] = rng.choice(PATHS)
            else:
                data["url"] = "https://docs.python.org/3/library/re.html?highlight=sub#re.sub"
        elif kind in ("log", "error"):
            template = rng.choice(LOG_TEMPLATES)
            event["message"] = template.format(
                model=model, a=rng.randint(1, 999), b=rng.randint(1, 999), c=rng.randint(1, 9999)
            )
            event["level"] = "error" if kind == "error" else "info"
            if kind == "error":
                data["error_code"] = "tool_timeout"
                event["attributes"]["exception.type"] = "TimeoutError"
        elif kind == "http_request":
            data.update(method="POST", path="/v1/chat", status_code=200, duration_ms=120.4)
        if rng.random() < 0.02:  # the odd leaked secret
            event["message"] = f"calling API with key {rng.choice(SECRETS[:20])}"
        events.append(event)
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    events = make_events(args.events)
    redactor = Redactor(b"bench-deployment-key-0123456789ab", default_policy=PrivacyPolicy())
    for event in events[:2000]:  # warm-up (regex caches, pseudonyms of recurring users)
        redactor.redact_event(event)

    samples: list[float] = []
    by_type: dict[str, list[float]] = {}
    clock = time.perf_counter_ns
    for event in events[: min(len(events), 20_000)]:
        start = clock()
        redactor.redact_event(event)
        elapsed = (clock() - start) / 1000
        samples.append(elapsed)
        by_type.setdefault(event["event_type"], []).append(elapsed)
    best = float("inf")
    for _ in range(args.rounds):
        start = clock()
        for event in events:
            redactor.redact_event(event)
        best = min(best, (clock() - start) / 1e9)

    p50 = statistics.median(samples)
    mean_us = best / len(events) * 1e6
    p99 = statistics.quantiles(samples, n=100)[98]
    print(f"events: {len(events)} (message, llm_call, tool_use, log, error, http, heartbeat)")
    print(
        f"redaction per event: p50 {p50:.2f} us, p99 {p99:.2f} us, "
        f"mean {mean_us:.2f} us (best of {args.rounds} rounds)"
    )
    print(f"throughput: {len(events) / best:,.0f} events/s on one core")
    changed, total = false_positives(redactor.redact_value)
    print(
        f"false positives on the innocuous corpus: {len(changed)}/{total} "
        f"= {len(changed) / total:.2%}"
    )
    print(
        "p50 per event type: "
        + ", ".join(
            f"{kind} {statistics.median(values):.1f} us" for kind, values in sorted(by_type.items())
        )
    )


if __name__ == "__main__":
    main()
