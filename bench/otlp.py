"""OTLP/HTTP protobuf span ingest benchmark (DESIGN.md target: >= 20,000 spans/s).

A real hub (``stacklens serve``, fsync on) and a client in a separate process posting
``ExportTraceServiceRequest`` bodies of realistic GenAI spans (chat/tool/agent spans
with model, token, agent, tool and prompt attributes, as OpenLLMetry/OpenLIT send them)
over concurrent connections. Prints acknowledged spans/s and ack latency. With
``--grpc``, the same bodies also go over OTLP/gRPC (``TraceService/Export`` on the hub's
gRPC port, concurrent calls on one channel) to a fresh hub, printed beside HTTP.

Before that, ``stages``: the same bodies through each stage in-process, on one core
(protobuf decode into raw events, normalize, privacy, row encode), in µs per span.

Run: ``.venv/bin/python bench/otlp.py [--seconds 15] [--concurrency 4] [--batch 512] [--grpc]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from stacklens.testing import HubProcess

MODELS = ("claude-sonnet-4-20250514", "gpt-4o-mini", "gpt-4.1", "llama-3.3-8b")
TOOLS = ("bash", "read", "edit", "webfetch")


def _kv(target: Any, key: str, value: object) -> None:
    kv = target.add()
    kv.key = key
    if isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.string_value = str(value)


def make_body(rng: random.Random, batch: int, tag: int) -> bytes:
    """One export request: ``batch`` spans in traces of an agent span, LLM and tool calls."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    _kv(resource_spans.resource.attributes, "service.name", "coder")
    _kv(resource_spans.resource.attributes, "stack.name", f"otlp-{rng.randrange(4)}")
    spans = resource_spans.scope_spans.add().spans
    now = time.time_ns()
    for i in range(batch):
        span = spans.add()
        span.trace_id = rng.getrandbits(128).to_bytes(16, "big")
        span.span_id = ((tag << 24) + i + 1).to_bytes(8, "big")
        span.start_time_unix_nano = now - rng.randrange(10**9, 60 * 10**9)
        span.end_time_unix_nano = span.start_time_unix_nano + rng.randrange(10**7, 10**10)
        kind = i % 3
        if kind == 0:
            span.name = "chat"
            _kv(span.attributes, "gen_ai.operation.name", "chat")
            _kv(span.attributes, "gen_ai.provider.name", "openai")
            _kv(span.attributes, "gen_ai.request.model", rng.choice(MODELS))
            _kv(span.attributes, "gen_ai.usage.input_tokens", rng.randrange(100, 8000))
            _kv(span.attributes, "gen_ai.usage.output_tokens", rng.randrange(10, 2000))
            _kv(span.attributes, "gen_ai.conversation.id", f"conv-{rng.randrange(1000)}")
            _kv(
                span.attributes,
                "gen_ai.input.messages",
                json.dumps(
                    [{"role": "user", "content": "refactor the parser and add a test " * 3}]
                ),
            )
        elif kind == 1:
            span.name = "execute_tool"
            _kv(span.attributes, "gen_ai.operation.name", "execute_tool")
            _kv(span.attributes, "gen_ai.tool.name", rng.choice(TOOLS))
        else:
            span.name = "invoke_agent"
            _kv(span.attributes, "gen_ai.operation.name", "invoke_agent")
            _kv(span.attributes, "gen_ai.agent.name", "sisyphus")
        _kv(span.attributes, "user.id", f"user{rng.randrange(20)}@example.com")
    return request.SerializeToString()


GRPC_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


async def client(
    url: str, key: str, seconds: float, concurrency: int, batch: int, *, over_grpc: bool = False
) -> dict[str, Any]:
    """Post for ``seconds`` over OTLP/HTTP (``url`` a base URL) or OTLP/gRPC (``url`` a
    ``host:port`` target), ``concurrency`` requests in flight."""
    rng = random.Random(11)
    bodies = [make_body(rng, batch, t) for t in range(16)]
    headers = {"X-API-Key": key, "Content-Type": "application/x-protobuf"}
    latencies: list[float] = []
    spans = 0
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    def next_body() -> bytes:
        n = next(counter)
        # Fresh span ids per request so nothing is deduplicated away.
        return bodies[n % len(bodies)] if n < len(bodies) else make_body(rng, batch, n)

    async def http_worker(http: httpx.AsyncClient) -> None:
        nonlocal spans
        while time.monotonic() < deadline:
            body = next_body()
            t0 = time.perf_counter()
            response = await http.post("/v1/traces", content=body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
            latencies.append(time.perf_counter() - t0)
            spans += batch

    async def grpc_worker(export: Any) -> None:
        nonlocal spans
        while time.monotonic() < deadline:
            body = next_body()
            t0 = time.perf_counter()
            await export(body, metadata=(("x-api-key", key),), timeout=60)  # raises unless OK
            latencies.append(time.perf_counter() - t0)
            spans += batch

    started = time.perf_counter()
    if over_grpc:
        async with grpc.aio.insecure_channel(url) as channel:
            export = channel.unary_unary(GRPC_EXPORT)
            await asyncio.gather(*(grpc_worker(export) for _ in range(concurrency)))
    else:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await asyncio.gather(*(http_worker(http) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "spans": spans,
        "seconds": round(elapsed, 2),
        "spans_per_s": round(spans / elapsed, 1),
        "ack_ms_p50": round(latencies[len(latencies) // 2] * 1000, 1),
        "ack_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
    }


def stages(
    batch: int, bodies: int = 20, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """Microseconds per span in each stage of the OTLP request path, in-process
    (``clock`` as in ``bench/ingest.py``'s stages)."""
    import msgspec

    from stacklens.ids import new_ulid
    from stacklens.ingest.otlp.traces import decode_traces
    from stacklens.privacy import Redactor
    from stacklens.schema import normalize, to_row

    rng = random.Random(3)
    payloads = [make_body(rng, batch, tag) for tag in range(bodies)]
    redactor = Redactor(b"bench-key")
    encoder = msgspec.json.Encoder()
    now = time.time_ns()
    timings: dict[str, float] = {}
    t = clock()
    decoded = [decode_traces(p, "application/x-protobuf").events for p in payloads]
    timings["decode"] = clock() - t
    raw = [event for events in decoded for event in events]
    t = clock()
    canonical = [normalize(e, default_stack="bench", now_ns=now, new_id=new_ulid) for e in raw]
    timings["normalize"] = clock() - t
    t = clock()
    safe = [redactor.redact_event(e).event for e in canonical]
    timings["privacy"] = clock() - t
    t = clock()
    for event in safe:
        encoder.encode(to_row(event, now))
    timings["row_encode"] = clock() - t
    return {name: round(seconds / len(raw) * 1e6, 2) for name, seconds in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--grpc", action="store_true", help="also over OTLP/gRPC, beside OTLP/HTTP")
    parser.add_argument("--client", nargs=2, metavar=("URL", "KEY"), help=argparse.SUPPRESS)
    parser.add_argument("--grpc-client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        result = asyncio.run(
            client(
                *args.client,
                args.seconds,
                args.concurrency,
                args.batch,
                over_grpc=args.grpc_client,
            )
        )
        print(json.dumps(result))
        return
    print(f"machine: {platform.node()} cpus={os.cpu_count()} python={platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    t0 = time.perf_counter()
    make_body(random.Random(1), args.batch, 1)
    print(
        f"client-side encode of one {args.batch}-span body: "
        f"{(time.perf_counter() - t0) * 1000:.1f} ms"
    )
    per_stage = stages(args.batch)
    print("per-stage cost (µs/span, in-process, one core):")
    for name, micros in per_stage.items():
        print(f"  {name:<12} {micros:>8.2f}")
    print(f"  request path total {sum(per_stage.values()):.2f} µs/span")
    transports = ["http", "grpc"] if args.grpc else ["http"]
    results = {transport: run_against_hub(args, transport) for transport in transports}
    if len(results) == 1:
        for key, value in results["http"].items():
            print(f"  {key:<12} {value}")
        return
    print(f"  {'':<12} {'OTLP/HTTP':>12} {'OTLP/gRPC':>12}")
    for key in results["http"]:
        print(f"  {key:<12} {results['http'][key]!s:>12} {results['grpc'][key]!s:>12}")


def run_against_hub(args: argparse.Namespace, transport: str) -> dict[str, Any]:
    """One client run over ``transport`` against a fresh hub (fsync on), in a separate
    process: the hub of one transport does not load the other's backlog."""
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(Path(tmp) / "data").start()
        target = hub.grpc_target if transport == "grpc" else hub.url
        try:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--client",
                    target,
                    hub.admin_key,
                    "--seconds",
                    str(args.seconds),
                    "--concurrency",
                    str(args.concurrency),
                    "--batch",
                    str(args.batch),
                    *(["--grpc-client"] if transport == "grpc" else []),
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=args.seconds + 120,
            )
        finally:
            hub.stop()
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
