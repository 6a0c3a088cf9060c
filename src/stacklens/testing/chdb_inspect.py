"""Read a chDB store from outside the hub: in a child process, since a process holds
one chDB path only (the test process may hold its own). Rows are counted as stored,
without ``FINAL``: a row inserted twice shows twice even before any merge.

``python -m stacklens.testing.chdb_inspect PATH DATABASE`` prints
``{event_id: copies}`` as JSON.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec

__all__ = ["stored_copies"]


def stored_copies(path: Path, database: str = "stacklens") -> dict[str, int]:
    """Each stored event_id of the chDB store at ``path`` and how many copies of it
    the ``events`` table physically holds."""
    done = subprocess.run(
        [sys.executable, "-m", "stacklens.testing.chdb_inspect", str(path), database],
        capture_output=True,
        timeout=120,
        check=True,
    )
    decoded: dict[str, int] = msgspec.json.decode(done.stdout.splitlines()[-1])
    return decoded


def main() -> None:
    import clickhouse_connect

    path, database = sys.argv[1], sys.argv[2]
    client = clickhouse_connect.get_client(interface="chdb", path=path, database=database)
    rows = client.query(
        "SELECT event_id, count() FROM events GROUP BY event_id", settings={"final": 0}
    ).result_rows
    sys.stdout.write(msgspec.json.encode({str(k): int(v) for k, v in rows}).decode() + "\n")
    client.close()


if __name__ == "__main__":
    main()
