"""Native ingest benchmark (DESIGN.md target: >= 100,000 events/s acked durable).

1. End to end: a real hub (``stacklens serve``, fsync on) and a load generator in a
   separate process (concurrent connections, NDJSON batches of 1,000 realistic events).
   Prints acknowledged events/s and p50/p99 acknowledgement latency.
2. Acknowledged -> queryable: during the load, single probe events are posted and the
   query API is polled until each is visible; prints p50/p99.
3. Where the time goes: the same batches through each stage of the ingest path
   in-process (parse, normalize, privacy, encode, spool fsync, load into DuckDB with the
   hub's rollup hooks), in microseconds per event. ``bench/load_statements.py`` splits
   the load by statement.

``--store duckdb,chdb`` runs the end-to-end phases and the load stage on each store in
one run: DuckDB (the embedded default) and ClickHouse through chDB
(``STACKLENS_STORE_URL=chdb:///...``: the ClickHouse adapter's production client code,
with no network between hub and store).

Run: ``.venv/bin/python bench/ingest.py [--seconds 20] [--concurrency 8] [--store duckdb,chdb]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from stacklens.analytics.rollups import ddl_statements, load_statements
from stacklens.ids import new_ulid
from stacklens.ingest.body import parse_native
from stacklens.ingest.loader import Loader
from stacklens.ingest.spool import Spool
from stacklens.privacy import Redactor
from stacklens.schema import normalize, to_row
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import HubProcess
from stacklens.testing.loadgen import make_batches


def end_to_end(
    seconds: float, concurrency: int, rate: float = 0.0, store: str = "duckdb", workers: int = 0
) -> dict[str, Any]:
    """``workers``: the hub's pipeline worker processes (``STACKLENS_INGEST_WORKERS``)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"STACKLENS_STORE_URL": f"chdb://{tmp}/chdb"} if store == "chdb" else {}
        if workers:
            env["STACKLENS_INGEST_WORKERS"] = str(workers)
        hub = HubProcess(Path(tmp) / "data", env=env or None).start()
        try:
            probes: list[float] = []
            stop = threading.Event()

            def probe() -> None:
                with hub.client() as client:
                    n = 0
                    while not stop.is_set():
                        n += 1
                        session = f"probe-{n}-{random.getrandbits(32):x}"
                        event = {
                            "timestamp": time.time_ns(),
                            "stack_name": "probe",
                            "event_type": "heartbeat",
                            "session_id": session,
                        }
                        t0 = time.perf_counter()
                        if client.post("/v1/events", json=event).status_code != 200:
                            continue
                        # Poll every 50 ms (finer polling loads the hub it measures).
                        params = {"stack": "probe", "session_id": session, "limit": 1}
                        while not stop.is_set():
                            found = client.get("/api/v1/events", params=params).json()["events"]
                            if found:
                                probes.append(time.perf_counter() - t0)
                                break
                            time.sleep(0.05)
                        time.sleep(0.5)

            prober = threading.Thread(target=probe, daemon=True)
            prober.start()
            hub_pid = hub.process.pid if hub.process else 0
            hub_before, children_before = hub_cpu(hub_pid), _children_cpu()
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "stacklens.testing.loadgen",
                    "--url",
                    hub.url,
                    "--key",
                    hub.admin_key,
                    "--seconds",
                    str(seconds),
                    "--concurrency",
                    str(concurrency),
                    "--batch",
                    "1000",
                    "--rate",
                    str(rate),
                ],
                capture_output=True,
                check=True,
                timeout=seconds + 120,
            )
            hub_after, children_after = hub_cpu(hub_pid), _children_cpu()
            stop.set()
            prober.join(timeout=10)
            summary: dict[str, Any] = msgspec.json.decode(result.stdout.splitlines()[-1])
            summary["cpu_s"] = {
                "load_generator": round(children_after - children_before, 3),
                **{k: round(hub_after[k] - hub_before.get(k, 0.0), 3) for k in hub_after},
            }
            probes.sort()
            if probes:
                summary["queryable_ms_p50"] = round(statistics.median(probes) * 1000, 1)
                summary["queryable_ms_p99"] = round(
                    probes[min(len(probes) - 1, int(0.99 * len(probes)))] * 1000, 1
                )
                summary["queryable_probes"] = len(probes)
            with hub.client() as client:
                metrics = client.get("/metrics").text
            summary["hub_rss_mb"] = _rss_mb(hub.process.pid if hub.process else 0)
            summary["metrics_excerpt"] = [
                m
                for m in metrics.splitlines()
                if m.startswith("stacklens_ingest_events_accepted_total")
            ]
            return summary
        finally:
            hub.stop()


def _ticks(stat: str) -> float:
    """utime + stime, in seconds, of one /proc/.../stat line (fields 14 and 15; the
    command name in brackets may hold spaces, so count from its closing bracket)."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hub_cpu(pid: int) -> dict[str, float]:
    """CPU seconds used so far by the hub: its main thread (the event loop: HTTP and
    the request path when it runs inline), its other threads (spool, loader, alerts,
    ``to_thread``) and its child processes (the pipeline worker pool, if configured).
    Read from /proc, so Linux only; empty where it cannot be read."""
    out = {"hub_main_thread": 0.0, "hub_other_threads": 0.0, "hub_children": 0.0}
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            key = "hub_main_thread" if task.name == str(pid) else "hub_other_threads"
            out[key] += _ticks((task / "stat").read_text())
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and proc.name != str(pid):
                try:
                    stat = (proc / "stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:  # ppid
                    out["hub_children"] += _ticks(stat)
    except OSError:
        return {}
    return out


def _children_cpu() -> float:
    """CPU seconds of this process's waited-for children (the load generator run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):  # peak resident set
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _open_store(name: str, directory: Path) -> Any:
    """The store as the hub configures it: its rollup tables and the hooks that keep
    them inside each load."""
    if name == "duckdb":
        return DuckDBStore(
            directory / "events.duckdb",
            extra_ddl=ddl_statements(),
            load_hooks={"events": load_statements()},
        )
    from stacklens.store.urls import StoreOptions, open_store

    def rollups(dialect: Any) -> tuple[list[str], dict[str, list[str]]]:
        return ddl_statements(dialect), {"events": load_statements(dialect)}

    return open_store(f"chdb://{directory / 'chdb'}", StoreOptions(data_dir=directory), rollups)


def stages(
    batches: int = 20,
    stores: tuple[str, ...] = ("duckdb",),
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Microseconds per event in each stage of the ingest path (the load stage once
    per store, the same spooled batches each time). ``clock``: wall time by default;
    ``time.process_time`` counts this process's CPU only (``bench/limit.py``)."""
    rng = random.Random(7)
    pool = make_batches(rng, "stage", batches, 1000)
    bodies = [body for _, body in pool]
    events = batches * 1000
    redactor = Redactor(b"bench-key")
    now = time.time_ns()
    timings: dict[str, float] = {}

    t = clock()
    parsed = [parse_native(b).events for b in bodies]
    timings["parse_json"] = clock() - t

    t = clock()
    canonical = [
        normalize(e, default_stack=None, now_ns=now, new_id=new_ulid)
        for batch in parsed
        for e in batch
    ]
    timings["normalize"] = clock() - t

    t = clock()
    safe = [redactor.redact_event(e).event for e in canonical]
    timings["privacy"] = clock() - t

    encoder = msgspec.json.Encoder()
    t = clock()
    lines = [encoder.encode(to_row(e, now)) for e in safe]
    timings["row_encode"] = clock() - t

    with tempfile.TemporaryDirectory() as tmp:
        payloads = [b"\n".join(lines[i : i + 1000]) + b"\n" for i in range(0, len(lines), 1000)]
        for number, name in enumerate(stores):
            # Each store loads its own copy of the same spooled batches (a load
            # consumes its segments); the spool is timed on the first copy.
            spool = Spool(Path(tmp) / f"spool-{name}")
            spool.open()

            async def write_all(spool: Spool = spool) -> None:
                await asyncio.gather(*(spool.append(p, 1000) for p in payloads))

            t = clock()
            asyncio.run(write_all())
            if number == 0:
                timings["spool_fsync"] = clock() - t
            store = _open_store(name, Path(tmp) / name)
            loader = Loader(spool, store)
            t = clock()
            loader.run_once()
            timings[f"load_{name}"] = clock() - t
            assert store.count_events() == events, (name, store.count_events())
            spool.close()
            store.close()
    return {name: round(seconds / events * 1e6, 2) for name, seconds in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="steady-rate phase (default: half the max)"
    )
    parser.add_argument("--store", default="duckdb", help="comma-separated: duckdb, chdb")
    args = parser.parse_args()
    stores = tuple(name.strip() for name in args.store.split(",") if name.strip())
    if set(stores) - {"duckdb", "chdb"}:
        parser.error("--store: choose from duckdb, chdb")
    print(
        f"machine: {platform.node()} {platform.machine()} cpus={os.cpu_count()} "
        f"python={platform.python_version()}"
    )
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    per_stage = stages(stores=stores)
    total = sum(v for k, v in per_stage.items() if not k.startswith("load_"))
    print("\nper-stage cost (µs/event, in-process, one core):")
    for name, micros in per_stage.items():
        print(f"  {name:<12} {micros:>8.2f}")
    print(
        f"  request path total {total:.2f} µs/event"
        f" -> ceiling {1e6 / total:,.0f} events/s on one core"
    )
    for store in stores:
        summary = end_to_end(args.seconds, args.concurrency, store=store)
        print(
            f"\n[{store}] end to end, as fast as possible (real server, fsync on, "
            "separate load generator):"
        )
        for key, value in summary.items():
            print(f"  {key:<20} {value}")
        rate = args.rate or round(summary["events_per_s"] * 0.5, -3)
        steady = end_to_end(args.seconds, args.concurrency, rate=rate, store=store)
        print(f"\n[{store}] end to end at a steady {rate:,.0f} events/s (about half the maximum):")
        for key, value in steady.items():
            print(f"  {key:<20} {value}")


if __name__ == "__main__":
    main()
