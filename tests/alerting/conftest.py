"""Fixtures shared by the alerting tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stacklens.metadata.db import MetadataDB
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import ManualClock
from stacklens.testing.alerting import Recorder


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    s = DuckDBStore(tmp_path / "events.duckdb", memory_limit="128MB", threads=1)
    yield s
    s.close()


@pytest.fixture
def metadata_db(tmp_path: Path) -> Iterator[MetadataDB]:
    db = MetadataDB(f"sqlite:///{tmp_path / 'metadata.sqlite'}")
    yield db
    db.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()
