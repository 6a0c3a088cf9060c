"""kill -9 under load: every acknowledged event is stored exactly once."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import msgspec
import pytest

from stacklens.testing import HubProcess
from stacklens.testing.chdb_inspect import stored_copies


def _stored(store: str, data_dir: Path, chdb: Path) -> dict[str, int]:
    """event_id → copies stored (as stored: a duplicate counts even unmerged)."""
    if store == "chdb":
        return stored_copies(chdb)
    con = duckdb.connect(str(data_dir / "events.duckdb"), read_only=True)
    found = dict(con.execute("SELECT event_id, count(*) FROM events GROUP BY event_id").fetchall())
    con.close()
    return found


@pytest.mark.slow
@pytest.mark.parametrize("store", ["duckdb", "chdb"])
def test_sigkill_under_load_loses_and_duplicates_nothing(tmp_path: Path, store: str) -> None:
    data_dir = tmp_path / "data"
    acked_file = tmp_path / "acked.txt"
    chdb = tmp_path / "chdb"
    env = {"STACKLENS_STORE_URL": f"chdb://{chdb}"} if store == "chdb" else {}
    hub = HubProcess(data_dir, env=env).start()
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
            "8",
            "--grace",
            "40",
            "--concurrency",
            "4",
            "--batch",
            "200",
            "--acked",
            str(acked_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    rng = random.Random()
    kills = 0
    try:
        for _ in range(3):
            time.sleep(rng.uniform(0.5, 2.0))  # a random moment under load
            hub.kill()
            kills += 1
            time.sleep(rng.uniform(0.0, 0.3))
            hub.start()
        out, err = generator.communicate(timeout=120)
        assert generator.returncode == 0, err.decode()[-2000:]
        summary = msgspec.json.decode(out.splitlines()[-1])
        assert summary["acked_events"] > 0
    finally:
        if generator.poll() is None:
            generator.kill()
        hub.stop()  # graceful: the loader drains the spool into the store

    acked = acked_file.read_text().split()
    assert len(acked) == summary["acked_events"]
    counts = _stored(store, data_dir, chdb)
    missing = [i for i in acked if i not in counts]
    duplicated = {i: c for i, c in counts.items() if c > 1}
    assert kills == 3
    assert missing == [], f"{len(missing)} acknowledged events lost"
    assert duplicated == {}, f"{len(duplicated)} events stored more than once"
