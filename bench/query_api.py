"""Grafana-native query APIs over a generated store: every exported seed rule's PromQL
as a range query over 7 days at a 1-minute step (``/prometheus``), and the seed LogQL
queries over 24 hours (``/loki``), through the real FastAPI app (in-process); p50/p95
per query and the worst of each API.

    .venv/bin/python bench/query_api.py [--events 10000000] [--days 30] [--runs 5]
                                        [--data-dir DIR] [--reuse] [--store duckdb,chdb]
                                        [--only promql|logql] [--match TEXT]

The store is bench/queries.py's (same generator, same distribution: 8 stacks, 5 models,
sessions of 25 events; 13 % logs of service ``opencode`` saying "something happened",
15 % llm_call with ``duration_ms`` and ``agent``), generated once into ``--data-dir``
and kept with ``--reuse``.

PromQL: the rules ``stacklens rules export --format prometheus`` writes from the default
rule set (the seeds' alert rules over the hub's metric names), plus the two Grafana
dashboard panels of the seeds (tokens by stack); each as Grafana's POST
``query_range``, 10,081 steps. The generator makes no OTel metrics, so the gpu, drift,
budget and infra rules find no series (they time the selector look-up alone).

LogQL: the seed queries (seed 002 "Querying Logs", seed 004's LogQL table) name labels
the generator does not make (``service="gateway"``, ``app="auth"``), so each runs with
the generator's equivalent selector and the same pipeline: a line filter on the log
stream, ``| json`` label filters over one stack's events (whose lines are their rendered
fields), and the metric queries at Grafana's request shape (start/end in ns,
``step=60000ms``). Target (issue 18): p95 <= 200 ms for every query.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from queries import (  # bench/queries.py, beside it
    END_NS,
    percentiles,
    prepare,
    store_arguments,
    time_get,
)

TARGET_MS = 200.0
WEEK_S = 7 * 86400
DAY_NS = 86400 * 10**9
#: the seeds' Grafana panels that are not rules (seed 000's dashboard)
PANELS = [
    ("panel: tokens rate by stack", "sum by (stack_name) (rate(opencode_tokens_total[5m]))"),
    ("panel: tokens 1 h by stack", "sum by (stack_name) (increase(opencode_tokens_total[1h]))"),
]


def promql_cases() -> list[tuple[str, str]]:
    """(label, PromQL): every exportable default rule's expression, then the panels."""
    from stacklens.alerting.defaults import default_rules
    from stacklens.alerting.prometheus_export import NotExportable, promql

    out: list[tuple[str, str]] = []
    for group in default_rules().groups:
        for rule in group.rules:
            try:
                out.append((rule.key, promql(rule)))
            except NotExportable:
                continue  # evaluated by the hub only: no PromQL to ask
    return out + PANELS


def logql_cases(end_ns: int) -> list[tuple[str, str, dict[str, Any]]]:
    window = {"start": str(end_ns - DAY_NS), "end": str(end_ns)}
    logs = {**window, "limit": "1000", "direction": "backward"}
    metric = {**window, "step": "60000ms"}
    rng = "/loki/api/v1/query_range"
    return [
        ('002 all errors: {..} |= ".."', rng,
         {**logs, "query": '{service="opencode"} |= "happened"'}),
        ("002 agent: | json | agent=..", rng,
         {**logs, "query": '{stack_name="stack-3"} | json | agent="oracle"'}),
        ("002 slow: | json | duration_ms > 5000", rng,
         {**logs, "query": '{stack_name="stack-3"} | json | duration_ms > 5000'}),
        ("002 error rate: rate(.. |= .. [5m])", rng,
         {**metric, "query": 'rate({service="opencode"} |= "happened" [5m])'}),
        ("004 errors: | json | level=..", rng,
         {**logs, "query": '{stack_name="stack-3"} | json | level="error"'}),
        ("004 trace: | json | trace_id=..", rng,
         {**logs, "query": '{stack_name="stack-3"} | json | trace_id="t-0001"'}),
        ("004 5xx-style: | json | tokens_in >= 6000", rng,
         {**logs, "query": '{event_type="llm_call"} | json | tokens_in >= 6000'}),
        ("sum by (level) (count_over_time([5m]))", rng,
         {**metric, "query": 'sum by (level) (count_over_time({service="opencode"}[5m]))'}),
        ("topk(3, sum by (stack) (rate(llm_call[5m])))", rng,
         {**metric, "query": 'topk(3, sum by (stack_name) (rate({event_type="llm_call"}[5m])))'}),
        ("Grafana health: vector(1)+vector(1)", "/loki/api/v1/query",
         {"query": "vector(1)+vector(1)", "time": "4000000000"}),
        ("labels (24 h)", "/loki/api/v1/labels", window),
        ("label values: service (24 h)", "/loki/api/v1/label/service/values", window),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    store_arguments(parser, runs=5)
    parser.add_argument("--store", default="duckdb", help="comma-separated: duckdb, chdb")
    parser.add_argument("--only", choices=("promql", "logql"), default=None)
    parser.add_argument("--match", default="", help="only the queries whose label has this")
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

    data_dir, _, overrides = prepare(args, store_name, "stacklens-query-api-bench-")
    end_s = END_NS // 10**9 - 60
    hub = Hub(hub_config(data_dir, **overrides), clock=ManualClock(end_s * 10**9))
    hub.bootstrap_admin()
    app = create_app(hub)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        print(f"\n[{store_name}] {hub.store.count_events():,} events, {args.runs} runs per query")
        if args.only != "logql":
            run_promql(client, end_s, args.runs, args.match)
        if args.only != "promql":
            run_logql(client, end_s * 10**9, args.runs, args.match)
    hub.store.close()


def run_promql(client: Any, end_s: int, runs: int, match: str) -> None:
    form = {"start": str(end_s - WEEK_S), "end": str(end_s), "step": "60"}
    print("\nPromQL query_range, 7 d at 60 s step (10,081 points)\n")
    print(f"{'rule':<34} {'p50 ms':>8} {'p95 ms':>8} {'series':>7}")
    worst = ("", 0.0)
    for label, query in promql_cases():
        if match not in label:
            continue
        samples: list[float] = []
        series = 0
        for _ in range(runs + 1):  # the first run warms the caches
            t = time.perf_counter()
            response = client.post("/prometheus/api/v1/query_range", data={**form, "query": query})
            samples.append((time.perf_counter() - t) * 1000)
            body: dict[str, Any] = response.json()
            assert response.status_code == 200, (query, body)
            series = len(body["data"]["result"])
        p50, p95 = percentiles(samples[1:])
        worst = max(worst, (label, p95), key=lambda w: w[1])
        print(f"{label:<34} {p50:8.1f} {p95:8.1f} {series:>7}", flush=True)
    _verdict("PromQL", worst)


def run_logql(client: Any, end_ns: int, runs: int, match: str) -> None:
    print("\nLogQL, 24 h (metric queries at a 60 s step)\n")
    print(f"{'query':<46} {'p50 ms':>8} {'p95 ms':>8}")
    worst = ("", 0.0)
    for label, path, params in logql_cases(end_ns):
        if match not in label:
            continue
        client.get(path, params=params)  # warm
        p50, p95 = time_get(client, path, params, max(runs, 2))
        worst = max(worst, (label, p95), key=lambda w: w[1])
        print(f"{label:<46} {p50:8.1f} {p95:8.1f}", flush=True)
    _verdict("LogQL", worst)


def _verdict(api: str, worst: tuple[str, float]) -> None:
    label, p95 = worst
    verdict = "meets" if p95 <= TARGET_MS else "misses"
    print(f"{api}: worst p95 {p95:.1f} ms ({label}): {verdict} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
