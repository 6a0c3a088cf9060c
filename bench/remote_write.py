"""Prometheus remote-write ingest benchmark: samples/s acknowledged by a real hub.

A real hub (``stacklens serve``, fsync on) and concurrent connections posting
snappy-compressed ``WriteRequest`` bodies shaped like Prometheus's (``--batch`` samples a
request, Prometheus 2.x sends up to 2,000; series of cAdvisor/node/GPU exporters with 6-9
labels, one sample each per scrape). Prints acknowledged samples/s, ack latency p50/p99,
and, before that, the decoder alone (snappy + protobuf + labels → points) in µs/sample.

Run: ``.venv/bin/python bench/remote_write.py [--samples 1000000] [--batch 2000]
[--concurrency 4]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from stacklens.ingest.prometheus.remote_write import decode_write
from stacklens.testing import HubProcess
from stacklens.testing.remote_write import HEADERS, Series, write_body

METRICS = (
    "container_memory_usage_bytes",
    "container_cpu_usage_seconds_total",
    "container_network_receive_bytes_total",
    "node_memory_MemAvailable_bytes",
    "gpu_utilization_percent",
    "gpu_temperature_celsius",
)


def make_body(batch: int, scrape: int, step_ms: int = 15_000) -> bytes:
    """One request: ``batch`` series of one scrape (one sample each)."""
    ts = int(time.time() * 1000) - 3_600_000 + scrape * step_ms
    series: list[Series] = []
    for i in range(batch):
        labels = {
            "__name__": METRICS[i % len(METRICS)],
            "job": "cadvisor" if i % 3 else "gpu-exporter",
            "instance": f"node-{i % 16}:8080",
            "name": f"container-{i // len(METRICS)}",
            "image": "registry.local/app:1.4.2",
            "namespace": f"team-{i % 5}",
            "stack_name": f"rw-{i % 4}",
        }
        series.append((labels, [(ts, float(i * 7 % 1000) + scrape)]))
    return write_body(series)


def decoder_cost(batch: int) -> float:
    body = make_body(batch, 0)
    started = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        decode_write(body, max_bytes=64 * 1024 * 1024)
    return (time.perf_counter() - started) / (rounds * batch) * 1e6


async def post_all(url: str, key: str, bodies: list[bytes], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {**HEADERS, "Authorization": f"Bearer {key}"}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            while True:
                started = time.perf_counter()
                response = await client.post("/prometheus/api/v1/write", content=body)
                if response.status_code == 503:  # backpressure: retry, as Prometheus does
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                if response.status_code != 204:
                    raise SystemExit(f"{response.status_code}: {response.text[:300]}")
                latencies.append(time.perf_counter() - started)
                break

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    requests = max(1, args.samples // args.batch)
    print(f"decoder alone: {decoder_cost(args.batch):.2f} µs/sample", flush=True)
    bodies = [make_body(args.batch, scrape) for scrape in range(requests)]
    with tempfile.TemporaryDirectory() as tmp, HubProcess(Path(tmp) / "data") as hub:
        started = time.perf_counter()
        latencies = asyncio.run(post_all(hub.url, hub.admin_key, bodies, args.concurrency))
        elapsed = time.perf_counter() - started
    total = requests * args.batch
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"{total} samples in {requests} requests of {args.batch}, concurrency "
        f"{args.concurrency}: {total / elapsed:,.0f} samples/s acknowledged; ack p50 "
        f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()
