"""Hub memory with 10 M events stored, under load (DESIGN.md target: RSS <= 400 MB).

Starts a real hub (``stacklens serve``) on a data directory that already holds a large
store (make one with ``bench/queries.py --data-dir DIR``), then for ``--seconds``:
ingests at a steady rate from a separate load-generator process while a reader polls
the dashboard API (overview, stack dashboard, costs, event search). Prints the hub's
resident memory every few seconds and its peak (VmHWM).

Run: ``.venv/bin/python bench/memory.py --data-dir DIR [--seconds 60] [--rate 15000]``
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

from stacklens.testing import HubProcess


def _status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=15_000.0)
    parser.add_argument("--duckdb-memory", default=None, help="STACKLENS_DUCKDB_MEMORY_LIMIT")
    args = parser.parse_args()
    print(f"machine: {platform.node()} cpus={os.cpu_count()} python={platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    env = {"STACKLENS_DUCKDB_MEMORY_LIMIT": args.duckdb_memory} if args.duckdb_memory else {}
    hub = HubProcess(args.data_dir, env=env).start(timeout=120)
    assert hub.process is not None
    pid = hub.process.pid
    with hub.client() as client:
        stored = client.get("/api/v1/overview", params={"since": "30d"}).status_code
        print(f"hub up (pid {pid}); RSS at start {_status(pid, 'VmRSS'):.0f} MB; overview {stored}")
    stop = threading.Event()
    queries = [0]

    def reader() -> None:
        paths = [
            ("/api/v1/overview", {"since": "7d"}),
            ("/api/v1/stacks/john-dev/dashboard", {"since": "24h"}),
            ("/api/v1/costs", {"by": "model", "since": "30d"}),
            ("/api/v1/events", {"event_type": "error", "limit": 100}),
            ("/api/v1/sessions", {"since": "24h"}),
        ]
        with hub.client() as client:
            while not stop.is_set():
                for path, params in paths:
                    client.get(path, params=params)
                    queries[0] += 1

    threads = [threading.Thread(target=reader, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    generator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stacklens.testing.loadgen",
            "--url",
            hub.url,
            "--key",
            hub.admin_key,
            "--seconds",
            str(args.seconds),
            "--rate",
            str(args.rate),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        while generator.poll() is None:
            time.sleep(5)
            print(f"  RSS {_status(pid, 'VmRSS'):.0f} MB  (peak {_status(pid, 'VmHWM'):.0f} MB)")
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        peak = _status(pid, "VmHWM")
        out = generator.communicate()[0].decode().strip()
    finally:
        stop.set()
        hub.stop()
    print(f"load: {out}")
    print(f"dashboard queries answered: {queries[0]}")
    print(f"peak RSS (VmHWM): {peak:.0f} MB")


if __name__ == "__main__":
    main()
