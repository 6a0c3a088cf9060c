from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacklens.testing import in_process_hub
from stacklens.testing.postgres import PostgresServer, postgres_server_session


@pytest.fixture
def hub_and_client(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    with in_process_hub(tmp_path / "data") as pair:
        yield pair


@pytest.fixture
def client(hub_and_client: tuple[Any, Any]) -> Any:
    return hub_and_client[1]


@pytest.fixture
def hub(hub_and_client: tuple[Any, Any]) -> Any:
    return hub_and_client[0]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the whole run (started only if a test asks for it)."""
    yield from postgres_server_session()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL: its SQLAlchemy URL."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
