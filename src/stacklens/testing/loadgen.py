"""A load generator for the native ingest endpoint, meant to run in its own process.

``python -m stacklens.testing.loadgen --url URL --key KEY --seconds 10`` sends NDJSON
batches of realistic events over several concurrent connections, like a real client:
a batch that fails (connection refused, 503) is retried with the same ``event_id``s
until acknowledged. It prints one JSON summary line (acknowledged events, events/s,
acknowledgement latency percentiles) and, with ``--acked FILE``, appends every
acknowledged ``event_id`` to FILE (flushed per batch) so a crash test can check them;
with ``--samples FILE``, writes each acknowledged request's send and acknowledgement
times (``time.monotonic()``, one clock for every process) so a benchmark can pick the
requests that overlapped something it did.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import sys
import time
from typing import Any

import httpx
import msgspec

from stacklens.testing.fleet import synthetic_events

__all__ = ["make_batches", "run"]


def make_batches(
    rng: random.Random, prefix: str, batches: int, size: int
) -> list[tuple[list[str], bytes]]:
    """Pre-encoded NDJSON batches (ids, body), so the generator spends its time sending."""
    encoder = msgspec.json.Encoder()
    now = time.time_ns()
    events = list(synthetic_events(rng, now - 3600 * 10**9, now, batches * size))
    out = []
    for b in range(batches):
        chunk = events[b * size : (b + 1) * size]
        ids = []
        lines = []
        for i, event in enumerate(chunk):
            event["event_id"] = f"{prefix}-{b}-{i}"
            ids.append(event["event_id"])
            lines.append(encoder.encode(event))
        out.append((ids, b"\n".join(lines) + b"\n"))
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    prefix = f"lg{os.getpid()}-{rng.getrandbits(32):08x}"
    pool = make_batches(rng, prefix, args.distinct_batches, args.batch)
    headers = {"X-API-Key": args.key, "Content-Type": "application/x-ndjson"}
    if args.gzip:
        headers["Content-Encoding"] = "gzip"
    latencies: list[float] = []
    acked = 0
    retries = 0
    deadline = time.monotonic() + args.seconds
    acked_file = open(args.acked, "a") if args.acked else None  # noqa: SIM115 - lives for the run
    samples: list[tuple[float, float]] = []  # (sent, acked), time.monotonic(): system-wide
    counter = iter(range(10**12))

    began = time.monotonic()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal acked, retries
        while time.monotonic() < deadline:
            n = next(counter)
            if args.rate:  # batch n is due at n * batch / rate seconds after the start
                delay = began + n * args.batch / args.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            ids, body = pool[n % len(pool)]
            if n >= len(pool):  # fresh ids for every batch sent: nothing is a duplicate
                tag = f"r{n}".encode()
                body = body.replace(f"{prefix}-".encode(), f"{prefix}-{tag.decode()}-".encode())
                ids = [i.replace(f"{prefix}-", f"{prefix}-{tag.decode()}-", 1) for i in ids]
            payload = gzip.compress(body, 1) if args.gzip else body
            while True:
                started = time.perf_counter()
                sent = time.monotonic()
                try:
                    response = await client.post("/v1/events", content=payload, headers=headers)
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                    samples.append((sent, time.monotonic()))
                    acked += response.json()["accepted"]
                    if acked_file is not None:
                        acked_file.write("\n".join(ids) + "\n")
                        acked_file.flush()
                    break
                if response is not None and response.status_code not in (429, 503):
                    raise RuntimeError(
                        f"hub answered {response.status_code}: {response.text[:200]}"
                    )
                retries += 1
                if time.monotonic() > deadline + args.grace:
                    return  # give up on this unacknowledged batch: it was never acked
                await asyncio.sleep(0.05)

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=args.url, timeout=60.0, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    if acked_file is not None:
        acked_file.close()
    if args.samples:
        with open(args.samples, "w") as out:
            out.writelines(f"{a:.6f} {b:.6f}\n" for a, b in samples)
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
        )

    return {
        "acked_events": acked,
        "seconds": round(elapsed, 3),
        "events_per_s": round(acked / elapsed, 1) if elapsed else 0.0,
        "requests": len(latencies),
        "retries": retries,
        "ack_ms_p50": round(pct(0.50), 2),
        "ack_ms_p99": round(pct(0.99), 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--grace", type=float, default=30.0, help="retry window after --seconds")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--distinct-batches", type=int, default=20)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s (0: as fast as possible)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--acked", default=None, help="append acknowledged event ids here")
    parser.add_argument(
        "--samples", default=None, help="write each acked request's sent/acked monotonic time"
    )
    args = parser.parse_args(argv)
    summary = asyncio.run(run(args))
    sys.stdout.write(msgspec.json.encode(summary).decode() + "\n")


if __name__ == "__main__":
    main()
