"""``kill -9`` during a retention run: every day is dropped whole or kept whole, the
rollups are untouched, and the next run finishes the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stacklens.retention.job import RetentionJob
from stacklens.retention.tiers import RetentionPolicy
from stacklens.testing import ManualClock
from stacklens.testing.analytics import install_rollups
from stacklens.testing.retention import DAY_NS, START_NS, day_traffic, load_segment, table_counts

DAYS = 20
PER_DAY = 300
NOW = START_NS + DAYS * DAY_NS + 3600 * 10**9

#: The job in a child process, over the same file, running until killed.
_CHILD = """
import sys
from pathlib import Path
from stacklens.retention.job import RetentionJob
from stacklens.retention.tiers import RetentionPolicy
from stacklens.testing import ManualClock
from stacklens.testing.analytics import install_rollups
store = install_rollups(Path(sys.argv[1]))
print("ready", flush=True)
RetentionJob(store, RetentionPolicy.build({}), clock=ManualClock(int(sys.argv[2]))).run_once()
print("done", flush=True)
"""


def usage_total(store: object) -> int:
    return int(store.fetch("SELECT sum(events) FROM usage_hourly").scalar())  # type: ignore[attr-defined]


def test_a_run_killed_at_any_point_leaves_whole_days_and_the_next_run_finishes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.duckdb"
    store = install_rollups(path)
    for day in range(DAYS):
        load_segment(store, tmp_path, day_traffic(START_NS + day * DAY_NS, PER_DAY))
    events_before = usage_total(store)
    store.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for delay in (0.0, 0.05, 0.15, 0.4):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), str(NOW)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        store = install_rollups(path)
        counts = table_counts(store, "events", "ts")
        assert set(counts.values()) <= {PER_DAY}, counts  # no day half dropped
        assert usage_total(store) == events_before  # rollups of a day outlive its raw rows
        store.close()
    store = install_rollups(path)
    report = RetentionJob(store, RetentionPolicy.build({}), clock=ManualClock(NOW)).run_once()
    assert report.error is None
    assert len(table_counts(store, "events", "ts")) == 7
    assert usage_total(store) == events_before
    store.close()
