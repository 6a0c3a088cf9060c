"""kill -9 while day partitions are loaded and dropped: after a restart nothing is
half-dropped, the view matches the day tables, the checkpoint matches the rows, and no
day still in retention lost a row."""

from __future__ import annotations

import datetime as dt
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from stacklens.testing.partition_churn import KEEP_DAYS, ROWS, day_of, expected_rows

pytestmark = [pytest.mark.slow]


def check(path: Path) -> int:
    """The state a kill left, read before anything reopens (and so repairs) the file;
    returns the checkpoint."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("SELECT segment FROM spool_checkpoints WHERE stream = 'events'")
        found = row.fetchone()
        c = int(found[0]) if found else 0
        tables = {
            name: dt.date(int(name[8:12]), int(name[12:14]), int(name[14:16]))
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'events_p')"
            ).fetchall()
        }
        [(view,)] = con.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'events' AND NOT internal"
        ).fetchall()
        assert set(re.findall(r"events_p\d{8}", view)) == set(tables), (view, tables)
        counts = {
            day: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # type: ignore[index]
            for name, day in tables.items()
        }
        assert con.execute("SELECT count(*) FROM events").fetchone() == (sum(counts.values()),)
        # Every day still in retention is there in full; the one day whose drop the
        # kill may have interrupted is in full or gone; every older day is gone.
        for n in range(c - KEEP_DAYS, c + 1):
            assert counts.get(day_of(n)) == expected_rows(day_of(n), c), (n, c, counts)
        edge = day_of(c - KEEP_DAYS - 1)
        assert counts.get(edge, 0) in (0, expected_rows(edge, c)), (c, counts)
        assert set(counts) <= {day_of(n) for n in range(c - KEEP_DAYS - 1, c + 1)}, (c, counts)
        # The checkpoint matches the rows: segment c is in, nothing after it; the
        # rollups (never dropped) counted every row of segments 1..c exactly once.
        newest = con.execute(
            "SELECT max(CAST(split_part(substr(event_id, 2), '-', 1) AS INTEGER)) FROM events"
        ).fetchone()
        assert newest == (c if c else None,)
        rolled = con.execute(
            "SELECT coalesce(sum(events), 0) FROM usage_hourly WHERE stack_name = 'churn'"
        ).fetchone()
        assert rolled == (c * ROWS,)
        return c
    finally:
        con.close()


def test_sigkill_during_loads_and_drops_leaves_whole_days(tmp_path: Path) -> None:
    path = tmp_path / "churn.duckdb"
    rng = random.Random()
    checkpoints = []
    for _ in range(4):
        child = subprocess.Popen(
            [sys.executable, "-m", "stacklens.testing.partition_churn", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            for _ in range(KEEP_DAYS + 3):  # past the first drops
                assert child.stdout.readline(), child.stderr.read() if child.stderr else ""
            time.sleep(rng.uniform(0.0, 1.5))  # a random moment in the loop
            child.kill()
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=30)
        checkpoints.append(check(path))
    # The loop really got on between kills (each restart resumed from its checkpoint).
    assert checkpoints == sorted(checkpoints)
    assert checkpoints[-1] >= 4 * (KEEP_DAYS + 3)
