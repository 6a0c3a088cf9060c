"""The write path against the store's own limit (issue 19), in one run.

A. The limit: the raw append rate of the DuckDB store for rows shaped like ours — the
   realistic events ``bench/ingest.py`` sends, through normalize, privacy and
   ``to_row``, as 10,000-row Arrow batches, each appended by
   :meth:`DuckDBStore.load_arrow` in one transaction (stage, dedup against the last
   hour, move into the day tables of the real ``events`` view, checkpoint, commit).
   Twice: the store alone, and as the hub configures it (the rollup hooks in each load).
   Not measured: spool reading, NDJSON parsing (what the hub's loader adds on top).
B. The hub's acknowledged rate for native NDJSON: ``bench/ingest.py``'s as-fast-as-
   possible phase (real ``stacklens serve``, fsync on, separate load generator), then
   the same at half that rate for acked → queryable p50/p99.
C. The hub's acknowledged rate for OTLP/HTTP protobuf spans (``bench/otlp.py``'s client).
D. Request-path CPU per event, in-process on one core, by stage: ``bench/ingest.py``'s
   and ``bench/otlp.py``'s stage timers on the same batches as there (median of
   ``--repeat`` runs, after a warm-up), plus pricing (``price``: the hub runs it between
   normalize and privacy; ``bench/ingest.py``'s stages leave it out). Once more under
   the garbage-collector settings ``stacklens serve`` runs with.

Then the ratios B/A and C/A and each target of issue 19. Rates are of a 2-core machine
the load generator shares with the hub; the in-process µs/event (D) are the steadier
figure.

Run: ``.venv/bin/python bench/limit.py [--seconds 6] [--concurrency 8] [--repeat 3] [--skip-hub]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pyarrow as pa

from stacklens.analytics.pricing import Pricer
from stacklens.analytics.rollups import ddl_statements, load_statements
from stacklens.ids import new_ulid
from stacklens.ingest.body import parse_native
from stacklens.privacy import Redactor
from stacklens.schema import EventRow, normalize, to_row
from stacklens.store.arrow_rows import rows_arrow
from stacklens.store.columns import EVENTS
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing.loadgen import make_batches

BATCH = 10_000
#: Phase D's clock: this process's CPU time, so what else runs on the machine (the other
#: phases' processes, anything else) is not counted in. The spool stage then counts the
#: CPU of writing, not the wait for fsync; the load stage counts DuckDB's threads too.
CPU = time.process_time
#: Issue 19's targets, as ratios of the store's limit (and µs of request-path CPU).
TARGET_NATIVE = 0.50
TARGET_OTLP = 0.30
TARGET_QUERYABLE_P99_MS = 1000.0
TARGET_US_PER_EVENT = 15.0


def _sibling(name: str) -> ModuleType:
    """A sibling benchmark script, imported (its generators and timers, not a copy)."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def realistic_rows(count: int) -> list[EventRow]:
    """``count`` rows as the hub stores them: bench/ingest.py's events through the
    request path (parse, normalize, privacy, row)."""
    rng = random.Random(19)
    redactor = Redactor(b"bench-key")
    now = time.time_ns()
    rows = []
    for _, body in make_batches(rng, "limit", max(1, count // 1000), 1000):
        for raw in parse_native(body).events:
            event = normalize(raw, default_stack=None, now_ns=now, new_id=new_ulid)
            rows.append(to_row(redactor.redact_event(event).event, now))
    return rows[:count]


def with_keys(batch: pa.Table, number: int) -> pa.Table:
    """``batch`` with fresh event ids (batch ``number``), so nothing is deduplicated away."""
    ids = pa.array([f"b{number}-{i}" for i in range(batch.num_rows)])
    return batch.set_column(EVENTS.columns.index(("event_id", "string")), "event_id", ids)


def store_limit(seconds: float, *, rollups: bool, rows: list[EventRow]) -> dict[str, Any]:
    """Phase A: append 10,000-row Arrow batches for ``seconds``, one commit each."""
    template = rows_arrow(EVENTS, rows)
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(
            Path(tmp) / "events.duckdb",
            extra_ddl=ddl_statements() if rollups else (),
            load_hooks={"events": load_statements()} if rollups else None,
        )
        try:
            appended = 0
            number = 0
            latencies: list[float] = []
            started = time.perf_counter()
            while time.perf_counter() - started < seconds or number < 3:
                batch = with_keys(template, number)  # (not timed: the rows exist)
                t0 = time.perf_counter()
                result = store.load_arrow("events", batch, checkpoint=number + 1)
                latencies.append(time.perf_counter() - t0)
                appended += result.inserted
                number += 1
            elapsed = sum(latencies)  # the appends alone, not the re-keying between them
            assert store.count_events() == appended == number * BATCH
        finally:
            store.close()
    latencies.sort()
    return {
        "rows": appended,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(appended / elapsed),
        "commit_ms_p50": round(latencies[len(latencies) // 2] * 1000, 1),
        "commit_ms_max": round(latencies[-1] * 1000, 1),
    }


def price_stage() -> float:
    """µs/event of the pricing step the hub runs between normalize and privacy (outside
    bench/ingest.py's stages), on the same batches, its price tables loaded first."""
    pool = make_batches(random.Random(7), "stage", 20, 1000)
    now = time.time_ns()

    def canonical() -> list[dict[str, Any]]:
        return [
            normalize(raw, default_stack=None, now_ns=now, new_id=new_ulid)
            for _, body in pool
            for raw in parse_native(body).events
        ]

    pricer = Pricer()
    for event in canonical()[:2000]:  # warm-up (pricing sets data.cost_usd: fresh copies)
        pricer.apply(event)
    events = canonical()
    t = CPU()
    for event in events:
        pricer.apply(event)
    return round((CPU() - t) / len(events) * 1e6, 2)


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each stage's median over ``runs`` (other work on the machine inflates single runs)."""
    return {name: round(statistics.median(run[name] for run in runs), 2) for name in runs[0]}


def _stage_medians(
    ingest_bench: ModuleType, otlp_bench: ModuleType, repeat: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Native (pricing included) and OTLP per-stage µs of CPU, medians of ``repeat``."""
    native = _median([ingest_bench.stages(stores=("duckdb",), clock=CPU) for _ in range(repeat)])
    native["price"] = statistics.median(price_stage() for _ in range(repeat))
    spans = _median([otlp_bench.stages(512, clock=CPU) for _ in range(repeat)])
    return native, spans


def _path(per_stage: dict[str, float]) -> float:
    """The request path's µs/event: every stage but the loader's (off the request)."""
    return sum(v for k, v in per_stage.items() if not k.startswith("load_"))


def cpu_budget(
    run: dict[str, Any], request_path_us: float, loaded_rows_per_s: float, limit: float
) -> None:
    """Phase B's CPU, per acknowledged event, against what the machine has per event at
    that rate: every core's time divided by the events acked. Each process's CPU is its
    own utime + stime over the run (the hub's read from /proc, the load generator's from
    its rusage), so the split says where the cores went, not an estimate of it."""
    cpu, acked = run.get("cpu_s", {}), run.get("acked_events", 0)
    if not cpu or not acked:
        return
    cores, seconds = os.cpu_count() or 1, run["seconds"]
    per = {name: value * 1e6 / acked for name, value in cpu.items()}
    available = cores * seconds * 1e6 / acked
    print(f"\n[B] CPU budget at {run['events_per_s']:,.0f} events/s on {cores} cores:")
    print(f"  available per acked event (cores x seconds / events) {available:6.1f} µs")
    for name, value in per.items():
        print(f"  spent: {name:<32} {value:6.1f} µs")
    spent = sum(per.values())
    print(f"  spent in all{'':<28} {spent:6.1f} µs  ({spent / available:.0%})")
    # The hub's main thread runs the event loop; what it spends beyond the in-process
    # request path (phase D) is the HTTP server, asyncio and the ack bookkeeping.
    main = per.get("hub_main_thread", 0.0)
    # One thread runs the event loop: busy near 100 % it is the ceiling, whatever the
    # other core has left.
    print(
        f"  the hub's main thread was busy {cpu.get('hub_main_thread', 0.0) / seconds:.0%} "
        f"of the run: alone it caps the hub at {1e6 / main if main else 0:,.0f} events/s"
    )
    if not per.get("hub_children"):  # with worker processes the request path runs there
        print(
            f"  of the hub's main thread: request path (D) {request_path_us:.1f} µs, "
            f"the rest (HTTP, event loop) {main - request_path_us:.1f} µs"
        )
    print(
        f"  the store's own load with rollups (A) is {1e6 / loaded_rows_per_s:.1f} µs/row "
        "of wall time on its own; the loader's share is in the hub's other threads"
    )
    target = TARGET_NATIVE * limit
    print(
        f"  at {TARGET_NATIVE:.0%} of the limit ({target:,.0f}/s) all of it together may cost "
        f"{cores * 1e6 / target:.1f} µs per event; spent now {spent:.1f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="per phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="stage runs (median)")
    parser.add_argument("--skip-hub", action="store_true", help="phases A and D only")
    parser.add_argument(
        "--ingest-workers", type=int, default=0, help="the hub's pipeline worker processes (B)"
    )
    parser.add_argument("--stages-only", action="store_true", help="phase D only")
    args = parser.parse_args()
    ingest_bench, otlp_bench = _sibling("ingest"), _sibling("otlp")
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} python={platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")

    limit = 0
    if not args.stages_only:
        rows = realistic_rows(BATCH)
        print(f"\n[A] store limit (DuckDB, {BATCH:,}-row Arrow batches, one commit each):")
        alone = store_limit(args.seconds, rollups=False, rows=rows)
        hubbed = store_limit(args.seconds, rollups=True, rows=rows)
        for label, result in (("store alone", alone), ("with the hub's rollups", hubbed)):
            print(f"  {label:<24} {result}")
        limit = alone["rows_per_s"]

    print(f"\n[D] request-path CPU, in-process (µs of CPU/event, median of {args.repeat}):")
    ingest_bench.stages(batches=5, stores=(), clock=CPU)  # warm-up: privacy caches filled
    otlp_bench.stages(512, bodies=5, clock=CPU)
    native, spans = _stage_medians(ingest_bench, otlp_bench, args.repeat)
    print("  native:", msgspec.json.encode(native).decode())
    print("  otlp:  ", msgspec.json.encode(spans).decode())
    # The same again under the collector settings `stacklens serve` runs with (its
    # older name too, so the script measures an older checkout for a before/after).
    cli_main = importlib.import_module("stacklens.cli.main")  # (the package exports a command)
    (getattr(cli_main, "tune_gc", None) or cli_main._tune_gc)()
    native_gc, spans_gc = _stage_medians(ingest_bench, otlp_bench, args.repeat)
    print("  native, serve's GC settings:", msgspec.json.encode(native_gc).decode())
    print("  otlp, serve's GC settings:  ", msgspec.json.encode(spans_gc).decode())
    native_path = _path(native)
    span_path = sum(spans.values())
    if args.stages_only:
        print(
            f"request path: native {native_path:.2f} µs/event, OTLP {span_path:.2f} µs/span; "
            f"under serve's GC settings {_path(native_gc):.2f} / {sum(spans_gc.values()):.2f}"
        )
        return

    results: dict[str, Any] = {}
    if not args.skip_hub and not args.stages_only:
        print(f"\n[B] hub, native NDJSON, as fast as possible ({args.seconds:g} s):")
        results["native"] = ingest_bench.end_to_end(
            args.seconds, args.concurrency, workers=args.ingest_workers
        )
        print("  ", {k: v for k, v in results["native"].items() if k != "metrics_excerpt"})
        half = round(results["native"]["events_per_s"] * 0.5, -2)
        print(f"[B] hub, native NDJSON at a steady {half:,.0f} events/s (half the maximum):")
        results["half"] = ingest_bench.end_to_end(
            args.seconds, args.concurrency, rate=half, workers=args.ingest_workers
        )
        print("  ", {k: v for k, v in results["half"].items() if k != "metrics_excerpt"})
        print(f"\n[C] hub, OTLP/HTTP protobuf, 512-span bodies ({args.seconds:g} s):")
        otlp_args = argparse.Namespace(seconds=args.seconds, concurrency=4, batch=512)
        results["otlp"] = otlp_bench.run_against_hub(otlp_args, "http")
        print("  ", results["otlp"])

    if "native" in results:
        cpu_budget(results["native"], _path(native_gc), hubbed["rows_per_s"], limit)

    print(f"\nagainst the limit ({limit:,} rows/s, the store alone):")

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    if results:
        native_ratio = results["native"]["events_per_s"] / limit
        otlp_ratio = results["otlp"]["spans_per_s"] / limit
        p99 = results["half"].get("queryable_ms_p99", float("inf"))
        print(
            f"  native acked / limit  {native_ratio:6.1%}  (target >= {TARGET_NATIVE:.0%}: "
            f"{verdict(native_ratio >= TARGET_NATIVE)})"
        )
        print(
            f"  OTLP spans / limit    {otlp_ratio:6.1%}  (target >= {TARGET_OTLP:.0%}: "
            f"{verdict(otlp_ratio >= TARGET_OTLP)})"
        )
        print(
            f"  acked -> queryable p99 at half rate {p99} ms (target <= "
            f"{TARGET_QUERYABLE_P99_MS:.0f} ms: {verdict(p99 <= TARGET_QUERYABLE_P99_MS)})"
        )
    print(
        f"  native request path   {native_path:6.2f} µs/event (target <= "
        f"{TARGET_US_PER_EVENT:g}: {verdict(native_path <= TARGET_US_PER_EVENT)}; "
        f"one-core ceiling {1e6 / native_path:,.0f}/s = "
        f"{1e6 / native_path / limit:.0%} of the limit)"
    )
    print(
        f"  (under serve's GC settings: native {_path(native_gc):.2f} µs/event, "
        f"OTLP {sum(spans_gc.values()):.2f} µs/span)"
    )
    print(
        f"  OTLP request path     {span_path:6.2f} µs/span  (target <= "
        f"{TARGET_US_PER_EVENT:g}: {verdict(span_path <= TARGET_US_PER_EVENT)}; "
        f"one-core ceiling {1e6 / span_path:,.0f}/s = "
        f"{1e6 / span_path / limit:.0%} of the limit)"
    )


if __name__ == "__main__":
    main()
