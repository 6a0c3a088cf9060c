"""Fixtures shared by the alerting tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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


# ``metadata_db`` (tests/conftest.py): each alerting test on it runs on SQLite and on
# PostgreSQL.


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()
