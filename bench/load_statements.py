"""Where a load transaction's time goes, statement by statement.

Replays ``--loads`` loads of ``--rows`` realistic rows each (demo sessions through the
real parse → normalize → privacy → row path, written to a real spool with fsync) into a
DuckDB store configured exactly as the hub configures it (its DDL and its rollup hooks),
and times every statement the store runs inside the load transaction: staging the NDJSON,
dedup, each rollup hook, the insert, the checkpoint and the commit. Prints µs per row for
each, and the total.

What it does not measure: the HTTP request path (see ``bench/ingest.py``), and the GIL
contention of a live hub (the loader here runs alone).

Run: ``.venv/bin/python bench/load_statements.py [--loads 30] [--rows 10000]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from stacklens.analytics import rollups
from stacklens.ids import new_ulid
from stacklens.ingest.body import parse_native
from stacklens.ingest.loader import Loader
from stacklens.ingest.spool import Spool
from stacklens.privacy import Redactor
from stacklens.schema import normalize, to_row
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing.loadgen import make_batches

HOOKS = {
    rollups.usage_hourly_sql(): "rollup: hourly usage",
    rollups.billing_daily_sql(): "rollup: daily billing",
    rollups.session_summaries_sql(): "rollup: session summaries",
    rollups.stack_last_seen_sql(): "rollup: stack last seen",
    rollups.metric_labels_sql(rollups.DUCKDB, rollups.LABEL_CAP): "rollup: metric labels",
    rollups.metric_counters_sql(): "rollup: metric counters",
}


def label(statement: str) -> str:
    if statement in HOOKS:
        return HOOKS[statement]
    head = " ".join(statement.split())[:60].upper()
    for prefix, name in (
        ("CREATE OR REPLACE TEMP TABLE STAGING", "stage NDJSON"),
        ("CREATE TEMP TABLE STAGING", "stage NDJSON"),
        ("DELETE FROM STAGING", "dedup"),
        ("SELECT COUNT(*) FROM STAGING", "count staged"),
        ("SELECT MIN(RECEIVED_NS)", "dedup window"),
        ("INSERT INTO SPOOL_CHECKPOINTS", "checkpoint"),
        ("INSERT INTO EVENTS", "insert"),
        ("BEGIN", "begin"),
        ("COMMIT", "commit"),
    ):
        if head.startswith(prefix):
            return name
    return head[:40].lower()


class TimedConnection:
    """Forwards to the store's DuckDB connection and times each ``execute``."""

    def __init__(self, connection: Any, timings: dict[str, float]) -> None:
        self._connection = connection
        self._timings = timings

    def execute(self, statement: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._connection.execute(statement, *args)
        finally:
            self._timings[label(statement)] += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def rows(rng: random.Random, load: int, count: int, redactor: Redactor) -> list[bytes]:
    encoder = msgspec.json.Encoder()
    now = time.time_ns()
    lines = []
    for _, body in make_batches(rng, f"replay{load}", max(1, count // 1000), 1000):
        for event in parse_native(body).events:
            canonical = normalize(event, default_stack=None, now_ns=now, new_id=new_ulid)
            lines.append(encoder.encode(to_row(redactor.redact_event(canonical).event, now)))
    return lines[:count]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loads", type=int, default=30)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()} cpus={os.cpu_count()} "
        f"python={platform.python_version()}"
    )
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    rng = random.Random(11)
    redactor = Redactor(b"bench-key")
    timings: dict[str, float] = defaultdict(float)
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp) / "spool")
        spool.open()
        store = DuckDBStore(
            Path(tmp) / "events.duckdb",
            extra_ddl=rollups.ddl_statements(),
            load_hooks={"events": rollups.load_statements()},
        )
        loader = Loader(spool, store)
        store._con = TimedConnection(store._con, timings)  # type: ignore[assignment]
        loaded = 0
        for load in range(args.loads):
            lines = rows(rng, load, args.rows, redactor)
            asyncio.run(spool.append(b"\n".join(lines) + b"\n", len(lines)))
            loaded += loader.run_once().inserted
        spool.close()
        store.close()
    print(f"\n{args.loads} loads of {args.rows:,} rows ({loaded:,} inserted), µs per row:")
    total = 0.0
    for name, seconds in sorted(timings.items(), key=lambda kv: -kv[1]):
        micros = seconds / loaded * 1e6
        total += micros
        print(f"  {name:<28} {micros:>7.2f}")
    print(f"  {'total':<28} {total:>7.2f}")


if __name__ == "__main__":
    main()
