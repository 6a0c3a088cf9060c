"""Prometheus query API benchmark: the seed alert rules' PromQL (over the hub's own
metric names) as Grafana range queries, 7 days at a 1-minute step, through the real
FastAPI app (in-process) over a generated store; p50/p95 per query.

    .venv/bin/python bench/query_api_promql.py [--events 10000000] [--days 30]
                                               [--runs 5] [--data-dir DIR] [--reuse]
                                               [--store duckdb,chdb]

The store is bench/queries.py's (same generator, same distribution: 8 stacks, 5
models, ...). Each range query reads the raw events of its window (7 days plus the
rule's range) in SQL, grouped per series and 15 s bucket, and evaluates PromQL over
those samples (10,081 steps).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from queries import (  # bench/queries.py, beside it
    END_NS,
    prepare_chdb,
    prepare_store,
    store_arguments,
)

WEEK_S = 7 * 86400
RULES = [
    ("tokens rate by stack", "sum by (stack_name) (rate(opencode_tokens_total[5m]))"),
    ("error rate > 0.1", "rate(opencode_errors_total[5m]) > 0.1"),
    (
        "p95 latency > 30 s",
        "histogram_quantile(0.95, sum by (le, stack_name) "
        "(rate(opencode_response_duration_seconds_bucket[5m]))) > 30",
    ),
    ("cost increase 1 h > 10", "increase(stacklens_cost_usd_total[1h]) > 10"),
    ("tokens increase 1 h", "sum by (stack_name) (increase(opencode_tokens_total[1h]))"),
    ("stack down (up == 0)", "stacklens_stack_up == 0"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    store_arguments(parser, runs=5)
    parser.add_argument("--store", default="duckdb", help="comma-separated: duckdb, chdb")
    args = parser.parse_args()
    stores = [name.strip() for name in args.store.split(",") if name.strip()]
    unknown = set(stores) - {"duckdb", "chdb"}
    if unknown:
        parser.error(f"unknown store {sorted(unknown)}: choose duckdb, chdb")
    for name in stores:
        run_store(args, name)


def run_store(args: argparse.Namespace, store_name: str) -> None:
    from fastapi.testclient import TestClient

    from stacklens.server import Hub, create_app
    from stacklens.testing import ADMIN_KEY, ManualClock, hub_config

    if store_name == "chdb":
        data_dir, path = prepare_chdb(args, "stacklens-promql-bench-chdb-")
        overrides: dict[str, Any] = {"store_url": f"chdb://{path}"}
    else:
        data_dir, path = prepare_store(args, "stacklens-promql-bench-")
        overrides = {}
    end_s = END_NS // 10**9 - 60
    hub = Hub(hub_config(data_dir, **overrides), clock=ManualClock(end_s * 10**9))
    hub.bootstrap_admin()
    app = create_app(hub)
    form = {"start": str(end_s - WEEK_S), "end": str(end_s), "step": "60"}
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        print(f"\n[{store_name}] {hub.store.count_events():,} events")
        print(f"7 d at 60 s step (10,081 points), {args.runs} runs per query\n")
        print(f"{'rule':<26} {'p50 ms':>9} {'p95 ms':>9} {'series':>7}")
        for label, query in RULES:
            samples: list[float] = []
            series = 0
            for _ in range(args.runs + 1):  # the first run warms the caches
                t = time.perf_counter()
                response = client.post(
                    "/prometheus/api/v1/query_range", data={**form, "query": query}
                )
                samples.append((time.perf_counter() - t) * 1000)
                body: dict[str, Any] = response.json()
                assert response.status_code == 200, body
                series = len(body["data"]["result"])
            samples = sorted(samples[1:])
            p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
            print(f"{label:<26} {statistics.median(samples):>9.0f} {p95:>9.0f} {series:>7}")


if __name__ == "__main__":
    main()
