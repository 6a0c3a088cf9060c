"""Console page timings over 10 M events: each page's data (the functions of
:mod:`stacklens.web.pages`) and the whole server-rendered page through the real app
(session cookie, templates, in-process FastAPI), p50/p95 per page.

    .venv/bin/python bench/console.py [--events 10000000] [--days 30] [--runs 20]
                                      [--data-dir DIR] [--reuse]

The store is generated exactly as ``bench/queries.py`` does (same generator, same
distribution: 8 stacks, sessions of 25 events, logs, errors). Target: every page's
data in <= 300 ms.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from queries import END_NS, prepare_store, store_arguments  # bench/queries.py, beside it

TARGET_MS = 300.0


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    store_arguments(parser, runs=20)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from stacklens.metadata.keys import Principal, Role
    from stacklens.server import Hub, create_app
    from stacklens.testing import ADMIN_KEY, ManualClock, hub_config
    from stacklens.web import pages
    from stacklens.web.filters import parse_params

    data_dir, path = prepare_store(args, "stacklens-console-bench-")
    clock = ManualClock(END_NS - 60 * 10**9)
    hub = Hub(hub_config(data_dir), clock=clock)
    hub.bootstrap_admin()
    app = create_app(hub)
    session = hub.store.fetch(
        "SELECT session_id, stack_name FROM session_summaries ORDER BY last_ts DESC "
        "LIMIT 1 OFFSET 500"
    ).rows[0]
    session_id, session_stack = session
    admin = Principal(key_id="bench", role=Role.ADMIN)
    p24 = parse_params({})
    p7 = parse_params({"range": "7d"})
    p1 = parse_params({"range": "1h"})
    stack3 = parse_params({"stack": "stack-3"})
    month = time.strftime("%Y-%m", time.gmtime(END_NS // 10**9))
    budgets = app.state.console.budgets
    cases: list[tuple[str, Callable[[], Any], str]] = [
        ("overview (24 h)", lambda: pages.overview_page(hub, admin, p24), "/"),
        ("overview (7 d)", lambda: pages.overview_page(hub, admin, p7), "/?range=7d"),
        ("stack dashboard (24 h)", lambda: pages.stack_page(hub, admin, stack3), "/stacks/stack-3"),
        (
            "stack dashboard (1 h, 5 min)",
            lambda: pages.stack_page(hub, admin, parse_params({"stack": "stack-3", "range": "1h"})),
            "/stacks/stack-3?range=1h",
        ),
        ("sessions (24 h)", lambda: pages.sessions_page(hub, admin, p24), "/sessions"),
        (
            "session timeline",
            lambda: pages.session_page(hub, admin, session_id, session_stack),
            f"/sessions/{session_id}?stack={session_stack}",
        ),
        ("logs (1 h)", lambda: pages.logs_page(hub, admin, p1), "/logs?range=1h"),
        (
            "logs search text+level (24 h)",
            lambda: pages.logs_page(hub, admin, parse_params({"q": "happened", "level": "error"})),
            "/logs?q=happened&level=error",
        ),
        (
            "logs search, no match (7 d)",
            lambda: pages.logs_page(hub, admin, parse_params({"q": "no such text", "range": "7d"})),
            "/logs?q=no+such+text&range=7d",
        ),
        (
            "costs by model (24 h)",
            lambda: pages.costs_page(hub, admin, p24, budgets),
            "/costs?by=model",
        ),
        (
            "costs by day (30 d)",
            lambda: pages.costs_page(
                hub, admin, parse_params({"range": "30d", "by": "day"}), budgets
            ),
            "/costs?by=day&range=30d",
        ),
        ("alerts", lambda: pages.alerts_page(hub, admin), "/alerts"),
        ("admin", lambda: pages.admin_page(hub), "/admin"),
    ]
    with TestClient(app, follow_redirects=False) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        signed = client.post("/login", data={"csrf": token.group(1), "key": ADMIN_KEY})
        assert signed.status_code == 303, signed.text[:300]
        client.put(
            "/api/v1/budgets/stack-1", json={"monthly_usd": 500.0}, headers={"X-API-Key": ADMIN_KEY}
        )
        size = path.stat().st_size / 1e6
        print(
            f"\n{hub.store.count_events():,} events, store {size:.0f} MB; {args.runs} runs "
            f"(2 DuckDB threads, {hub.config.duckdb_memory_limit} memory limit); month {month}\n"
        )
        print(f"{'page':<32} {'data p50':>9} {'data p95':>9} {'page p50':>9} {'page p95':>9}")
        worst = 0.0
        for name, data, url in cases:
            d50, d95 = timed(data, args.runs)

            def get(url: str = url) -> None:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)

            h50, h95 = timed(get, args.runs)
            worst = max(worst, d95)
            flag = "" if d95 <= TARGET_MS else "  > target"
            print(f"{name:<32} {d50:9.1f} {d95:9.1f} {h50:9.1f} {h95:9.1f}{flag}", flush=True)
        print(f"\nworst page data p95 {worst:.1f} ms (target {TARGET_MS:.0f} ms)")


if __name__ == "__main__":
    main()
