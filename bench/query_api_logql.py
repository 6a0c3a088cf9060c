"""Loki query API benchmark: the seed LogQL queries over the last 24 hours of a
generated store, through the real app (in-process), p50/p95 per query.

    .venv/bin/python bench/query_api_logql.py [--events 10000000] [--days 30] [--runs 10]
                                              [--data-dir DIR] [--reuse] [--store chdb]

The store is generated exactly as ``bench/queries.py`` does (8 stacks, sessions of 25
events; 13 % logs of service ``opencode`` saying "something happened", 15 % llm_call
with ``duration_ms`` and ``agent``). The seed queries name labels that generator does
not make (``service="gateway"``, ``app="auth"``), so each runs with the generator's
equivalent selector and the same pipeline: a line filter on the log stream, ``| json``
label filters over one stack's events (whose lines are their rendered fields), and the
metric queries at Grafana's request shape (start/end in ns, ``step=60000ms``).
Target (issue 18): p95 <= 200 ms.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from queries import (  # bench/queries.py, beside it
    END_NS,
    prepare_chdb,
    prepare_store,
    store_arguments,
    time_get,
)

TARGET_MS = 200.0
DAY_NS = 86400 * 10**9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    store_arguments(parser, runs=10)
    parser.add_argument("--store", choices=("duckdb", "chdb"), default="duckdb")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from stacklens.server import Hub, create_app
    from stacklens.testing import ADMIN_KEY, ManualClock, hub_config

    overrides: dict[str, Any] = {}
    if args.store == "chdb":
        data_dir, path = prepare_chdb(args, "stacklens-logql-bench-chdb-")
        overrides["store_url"] = f"chdb://{path}"
    else:
        data_dir, _ = prepare_store(args, "stacklens-logql-bench-")
    end = END_NS - 60 * 10**9
    hub = Hub(hub_config(data_dir, **overrides), clock=ManualClock(end))
    hub.bootstrap_admin()
    app = create_app(hub)
    window = {"start": str(end - DAY_NS), "end": str(end)}
    logs = {**window, "limit": "1000", "direction": "backward"}
    metric = {**window, "step": "60000ms"}
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (
            'seed 002 all errors: {service=..} |= "..."',
            "/loki/api/v1/query_range",
            {**logs, "query": '{service="opencode"} |= "happened"'},
        ),
        (
            "seed 002 agent: | json | agent=..",
            "/loki/api/v1/query_range",
            {**logs, "query": '{stack_name="stack-3"} | json | agent="oracle"'},
        ),
        (
            "seed 002 slow: | json | duration_ms > 5000",
            "/loki/api/v1/query_range",
            {**logs, "query": '{stack_name="stack-3"} | json | duration_ms > 5000'},
        ),
        (
            "seed 002 error rate: rate(.. |= .. [5m])",
            "/loki/api/v1/query_range",
            {**metric, "query": 'rate({service="opencode"} |= "happened" [5m])'},
        ),
        (
            "seed 004 errors: | json | level=..",
            "/loki/api/v1/query_range",
            {**logs, "query": '{stack_name="stack-3"} | json | level="error"'},
        ),
        (
            "seed 004 5xx-style: | json | tokens_in >= 6000",
            "/loki/api/v1/query_range",
            {**logs, "query": '{event_type="llm_call"} | json | tokens_in >= 6000'},
        ),
        (
            "sum by (level) (count_over_time([5m]))",
            "/loki/api/v1/query_range",
            {**metric, "query": 'sum by (level) (count_over_time({service="opencode"}[5m]))'},
        ),
        (
            "topk(3, sum by (stack_name) (rate(llm_call [5m])))",
            "/loki/api/v1/query_range",
            {
                **metric,
                "query": 'topk(3, sum by (stack_name) (rate({event_type="llm_call"}[5m])))',
            },
        ),
        (
            "Grafana health: vector(1)+vector(1)",
            "/loki/api/v1/query",
            {"query": "vector(1)+vector(1)", "time": "4000000000"},
        ),
        ("labels (24 h)", "/loki/api/v1/labels", window),
        ("label values: service (24 h)", "/loki/api/v1/label/service/values", window),
    ]
    print(f"[{args.store}] {hub.store.count_events():,} events, {args.runs} runs per query")
    print(f"{'query':58} {'p50 ms':>8} {'p95 ms':>8}")
    worst = 0.0
    with TestClient(app) as client:
        client.headers["X-API-Key"] = ADMIN_KEY
        for name, path, params in cases:
            client.get(path, params=params)  # warm
            p50, p95 = time_get(client, path, params, args.runs)
            worst = max(worst, p95)
            print(f"{name:58} {p50:8.1f} {p95:8.1f}", flush=True)
    verdict = "meets" if worst <= TARGET_MS else "misses"
    print(f"worst p95 {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
