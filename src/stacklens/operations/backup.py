"""A consistent backup of a running hub, and a restore into an empty data directory.

A backup is a directory holding what a data directory holds, minus the spool:

- ``events.duckdb``: a transactionally consistent copy of the event store, made by the
  store itself under its write lock (DuckDB locks its file to one process, so a copy from
  outside the hub would be torn or refused);
- ``metadata.sqlite``: keys, stacks, alert state, silences, budgets (SQLite's online
  backup API; a PostgreSQL metadata database is backed up with ``pg_dump`` instead);
- ``secret.key``: the key behind content hashes and user pseudonyms, so that a restored
  hub pseudonymizes the same user to the same id;
- ``manifest.json``: when, by which version, and the row count.

Backups land in ``<data dir>/backups/<UTC time to the millisecond>/``.

The loader runs one cycle first, so everything acknowledged before the backup began is
in it. A restore copies those files into an empty data directory; the hub started on it
answers the same queries.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import msgspec

from stacklens import __version__

__all__ = ["BackupManifest", "BackupSource", "restore_backup", "take_backup"]

MANIFEST = "manifest.json"
STORE_FILE = "events.duckdb"
METADATA_FILE = "metadata.sqlite"
SECRET_FILE = "secret.key"


class BackupManifest(msgspec.Struct, frozen=True):
    created_ns: int
    version: str
    events: int
    files: dict[str, int]


class _Snapshotting(Protocol):
    def backup(self, dest: Path) -> None: ...


class _CountingStore(_Snapshotting, Protocol):
    def count_events(self) -> int: ...


class BackupSource(msgspec.Struct, frozen=True):
    """What a backup reads: the running hub's parts, passed in (no Hub import)."""

    data_dir: Path
    store: _CountingStore
    metadata: _Snapshotting
    flush: Callable[[], object]


def take_backup(source: BackupSource, *, clock: Callable[[], int] = time.time_ns) -> Path:
    """Write a backup under ``<data dir>/backups/<UTC time>/``; return its path."""
    created = clock()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(created // 10**9))
    stamp += f".{created // 10**6 % 1000:03d}Z"
    root = source.data_dir / "backups"
    root.mkdir(parents=True, exist_ok=True)
    # A directory of its own for each backup in progress, so two at once never collide.
    partial = Path(tempfile.mkdtemp(prefix=f"{stamp}.", suffix=".partial", dir=root))
    try:
        source.flush()
        source.store.backup(partial / STORE_FILE)
        # Refuses a PostgreSQL metadata database (pg_dump backs that up): no half
        # backup is left behind then.
        source.metadata.backup(partial / METADATA_FILE)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    secret = source.data_dir / SECRET_FILE
    if secret.exists():
        shutil.copy2(secret, partial / SECRET_FILE)
    files = {p.name: p.stat().st_size for p in sorted(partial.iterdir())}
    manifest = BackupManifest(created, __version__, source.store.count_events(), files)
    (partial / MANIFEST).write_bytes(msgspec.json.encode(manifest))
    # A backup directory without ".partial" is complete: the rename is the commit.
    for attempt in range(1, 1000):
        dest = root / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            partial.rename(dest)
        except OSError:  # taken by a backup finished in the same millisecond
            continue
        return dest
    raise RuntimeError(f"no free backup name under {root}")


def restore_backup(backup: Path, data_dir: Path) -> BackupManifest:
    """Copy a backup into ``data_dir``, which must be empty or absent."""
    manifest_path = backup / MANIFEST
    if not manifest_path.is_file():
        raise ValueError(f"{backup} is not a stacklens backup (no {MANIFEST})")
    manifest = msgspec.json.decode(manifest_path.read_bytes(), type=BackupManifest)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ValueError(f"{data_dir} is not empty: restore into a new data directory")
    for name, size in manifest.files.items():
        if (backup / name).stat().st_size != size:
            raise ValueError(f"{backup / name} is not the size the manifest records")
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in manifest.files:
        shutil.copy2(backup / name, data_dir / name)
    return manifest
