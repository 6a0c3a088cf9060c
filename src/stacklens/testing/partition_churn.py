"""Loads and day drops in a loop, meant to be killed (``kill -9``) at a random moment.

``python -m stacklens.testing.partition_churn STORE_FILE`` opens the store as the hub
does (rollups as load hooks) and repeats: load spool segment ``n`` (:data:`ROWS` events:
two thirds on day ``n``, one third late, on day ``n - 1``), then drop every stored day
older than ``n - KEEP_DAYS`` — what retention does, at many days a second. It resumes
from the store's checkpoint, so it can be restarted after each kill. Day ``n`` is
:func:`day_of` ``(n)``; :func:`expected_rows` is what a day holds after loads up to a
checkpoint, for the test that reopens the file after the kill.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Final

from stacklens.analytics.rollups import ddl_statements, load_statements
from stacklens.schema import EventRow
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing.backends import write_segment

__all__ = ["KEEP_DAYS", "ROWS", "day_of", "expected_rows", "open_store", "rows_for", "run"]

ROWS: Final = 150
KEEP_DAYS: Final = 3
_DAY_NS: Final = 86400 * 10**9
_FIRST: Final = dt.date(2026, 1, 1)


def day_of(n: int) -> dt.date:
    """The UTC day segment ``n``'s on-time events fall on."""
    return _FIRST + dt.timedelta(days=n)


def rows_for(n: int) -> list[EventRow]:
    start = int(dt.datetime(*day_of(n).timetuple()[:3], tzinfo=dt.UTC).timestamp()) * 10**9
    return [
        EventRow(
            event_id=f"n{n}-{i}",
            ts=start + 3600 * 10**9 + i * 10**9 - (_DAY_NS if i % 3 == 0 else 0),
            stack_name="churn",
            event_type="log",
            message=f"segment {n} row {i}",
            received_ns=start + _DAY_NS,
        )
        for i in range(ROWS)
    ]


def expected_rows(day: dt.date, checkpoint: int) -> int:
    """Rows day ``day`` holds once segments ``1..checkpoint`` are loaded (nothing
    dropped): its on-time two thirds from its own segment, its late third from the
    next one."""
    n = (day - _FIRST).days
    late = len(range(0, ROWS, 3))
    return (ROWS - late if 1 <= n <= checkpoint else 0) + (late if 1 <= n + 1 <= checkpoint else 0)


def open_store(path: Path) -> DuckDBStore:
    return DuckDBStore(path, extra_ddl=ddl_statements(), load_hooks={"events": load_statements()})


def run(path: Path, segments: Path) -> None:
    store = open_store(path)
    n = store.checkpoint("events")
    segments.mkdir(parents=True, exist_ok=True)
    while True:
        n += 1
        segment = write_segment(segments, n, rows_for(n))
        store.load_segments("events", [(n, segment)])
        segment.unlink()
        horizon = day_of(n - KEEP_DAYS)
        for partition in store.partitions("events"):
            if partition.day < horizon:
                store.drop_day("events", partition.day)
        print(n, flush=True)


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[1]).with_suffix(".segments"))
