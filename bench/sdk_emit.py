"""SDK costs in the caller's thread: ``Client.emit`` and a structured log call.

    .venv/bin/python bench/sdk_emit.py [--events 200000]

- ``emit()``: each call timed alone with ``perf_counter_ns`` (the timer's own cost,
  measured on an empty loop, is subtracted), while the sender thread runs against an
  in-process fake hub, so GIL contention with the sender is included. The queue is
  sized to hold the whole run: what is measured is the enqueue, not the overflow path.
- The sender's own throughput (build, redact, encode, gzip, post) is printed too.
- A log call: ``get_structured_logger(...).info`` (context, redaction, JSON) next to a
  plain structlog logger with TimeStamper + add_log_level + JSONRenderer, both to a
  null stream.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import structlog
from prometheus_client import CollectorRegistry

from stacklens.sdk import Client, get_structured_logger, set_trace_context
from stacklens.sdk.logging import reset_structured_logging, setup_structured_logging


def _percentiles(samples: list[int]) -> tuple[float, float]:
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def _timer_overhead(rounds: int = 100_000) -> int:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(rounds):
        start = clock()
        samples.append(clock() - start)
    return int(statistics.median(samples))


def bench_emit(events: int) -> None:
    def accept(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"accepted": 0, "rejected": []})

    with tempfile.TemporaryDirectory() as tmp:
        client = Client(
            "bench",
            "http://hub",
            "k",
            spool_dir=Path(tmp),
            queue_size=events * 3,
            http_client=httpx.Client(transport=httpx.MockTransport(accept)),
            registry=CollectorRegistry(),
            close_at_exit=False,
            environ={},
        )
        overhead = _timer_overhead()
        clock = time.perf_counter_ns
        cases: dict[str, Callable[[], None]] = {
            "emit('heartbeat')": lambda: client.emit("heartbeat"),
            "emit('llm_call', 5 fields)": lambda: client.emit(
                "llm_call",
                model="claude",
                tokens_in=1200,
                tokens_out=300,
                duration_ms=812.5,
                session_id="s-1",
            ),
            "llm_call() helper": lambda: client.llm_call(
                "claude", provider="anthropic", tokens_in=1200, tokens_out=300, duration_ms=812.5
            ),
        }
        for name, call in cases.items():
            for _ in range(2000):  # warm-up
                call()
            client.flush(60)
            samples = []
            for _ in range(events):
                start = clock()
                call()
                samples.append(clock() - start - overhead)
            p50, p99 = _percentiles(samples)
            client.flush(120)
            print(f"{name:30s} caller p50 {p50:6.0f} ns  p99 {p99:7.0f} ns")
        # Sender throughput: emit a block, time until the hub has it all.
        started = time.perf_counter()
        for _ in range(events):
            client.emit("llm_call", model="claude", tokens_in=1, tokens_out=1, session_id="s")
        assert client.flush(300)
        took = time.perf_counter() - started
        print(f"sender throughput (build+redact+encode+gzip+post): {events / took:,.0f} events/s")
        client.close()


def bench_logging(calls: int) -> None:
    sink = io.StringIO()

    def run(log: object) -> float:
        info = log.info  # type: ignore[attr-defined]
        for _ in range(1000):
            info("request processed", method="POST", path="/v1/chat", status_code=200)
        sink.seek(0)
        sink.truncate()
        started = time.perf_counter_ns()
        for index in range(calls):
            info("request processed", method="POST", path="/v1/chat", status_code=200)
            if index % 10_000 == 0:
                sink.seek(0)
                sink.truncate()
        return (time.perf_counter_ns() - started) / calls

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=sink),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
    plain = run(structlog.get_logger("plain"))
    setup_structured_logging("bench", "info", stream=sink, stdlib=False)
    set_trace_context("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    ours = run(get_structured_logger("bench"))
    filtered = get_structured_logger("bench")
    started = time.perf_counter_ns()
    for _ in range(calls):
        filtered.debug("dropped by level")
    below = (time.perf_counter_ns() - started) / calls
    reset_structured_logging()
    print(f"plain structlog JSON line      {plain / 1000:6.2f} us/call")
    print(
        f"stacklens structured logger    {ours / 1000:6.2f} us/call "
        f"({ours / plain:.1f}x: context, trace ids, redaction, field order)"
    )
    print(f"stacklens call below level     {below / 1000:6.2f} us/call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--log-calls", type=int, default=50_000)
    args = parser.parse_args()
    bench_emit(args.events)
    bench_logging(args.log_calls)


if __name__ == "__main__":
    main()
