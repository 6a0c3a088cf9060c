"""Store backends for the conformance suite (``tests/store/test_conformance.py``).

A factory builds a fresh, empty store of one backend under a test's temporary
directory — with the rollups installed and loaded the way the hub wires them — and
returns it with a loader function that writes rows exactly as the loader does (sealed
NDJSON spool segments through :meth:`~stacklens.store.base.Store.load_segments`).

A second backend joins the suite by appending its factory to :data:`BACKENDS`.
"""

from __future__ import annotations

import itertools
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec

from stacklens.analytics.rollups import ddl_statements, load_statements
from stacklens.store.base import LoadResult, Store
from stacklens.store.duckdb import DuckDBStore

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendFactory",
    "backend_id",
    "chdb_backend",
    "chdb_path",
    "clear_stream",
    "duckdb_backend",
    "write_segment",
]


def write_segment(directory: Path, number: int, rows: Sequence[Any]) -> Path:
    """One sealed spool segment (NDJSON of row structs), as the spool writes it."""
    path = directory / f"segment-{number:08d}.ndjson"
    path.write_bytes(b"".join(msgspec.json.encode(row) + b"\n" for row in rows))
    return path


@dataclass
class Backend:
    """A store under test and how rows reach it."""

    name: str
    store: Store
    directory: Path
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def load(self, rows: Sequence[Any], stream: str = "events") -> LoadResult:
        """Load ``rows`` as the next spool segment of ``stream`` (checkpoint included)."""
        number = next(self._numbers)
        path = write_segment(self.directory, number, rows)
        return self.store.load_segments(stream, [(number, path)])

    def load_raw(self, stream: str, segments: Sequence[tuple[int, bytes]]) -> LoadResult:
        """Load segments of raw bytes (to test what a broken segment does)."""
        paths = []
        for number, body in segments:
            path = self.directory / f"raw-{stream}-{number:08d}.ndjson"
            path.write_bytes(body)
            paths.append((number, path))
        return self.store.load_segments(stream, paths)


def clear_stream(store: Store, stream: str = "events") -> None:
    """Drop every stored day of ``stream`` (what retention does, all at once): a raw
    stream is a view over day tables, which a plain ``DELETE`` cannot write."""
    for partition in store.partitions(stream):
        store.drop_day(stream, partition.day)


#: Builds an empty store of one backend in a directory.
BackendFactory = Callable[[Path], Backend]


def duckdb_backend(directory: Path) -> Backend:
    """The embedded default: one DuckDB file, rollups as load hooks (as the hub)."""
    store = DuckDBStore(
        directory / "stacklens.duckdb",
        extra_ddl=ddl_statements(),
        load_hooks={"events": load_statements()},
    )
    return Backend("duckdb", store, directory)


_CHDB_PATH: list[str] = []


def chdb_path() -> str:
    """The one chDB data path of this process (chDB refuses a second path in a
    process): made on first use, shared by every chDB store the process opens."""
    if not _CHDB_PATH:
        _CHDB_PATH.append(tempfile.mkdtemp(prefix="stacklens-chdb-"))
    return _CHDB_PATH[0]


def chdb_backend(directory: Path) -> Backend:
    """ClickHouse through chDB, over clickhouse-connect's own chDB interface: a fresh
    database on the process's chDB path, rollups as load hooks (as the hub)."""
    from stacklens.store.clickhouse import ClickHouseStore
    from stacklens.store.clickhouse_clients import chdb_clients
    from stacklens.store.clickhouse_dialect import CLICKHOUSE

    writer, reader = chdb_clients(chdb_path(), f"t_{uuid.uuid4().hex[:16]}")
    store = ClickHouseStore(
        writer,
        reader=reader,
        extra_ddl=ddl_statements(CLICKHOUSE),
        load_hooks={"events": load_statements(CLICKHOUSE)},
    )
    return Backend("chdb", store, directory)


#: Every backend the conformance suite runs against.
BACKENDS: Final[tuple[BackendFactory, ...]] = (duckdb_backend, chdb_backend)


def backend_id(factory: BackendFactory) -> str:
    """A parametrized test's id for ``factory`` (``duckdb``, ``chdb``):
    ``@pytest.fixture(params=BACKENDS, ids=backend_id)``."""
    return factory.__name__.removesuffix("_backend")
