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


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty metadata database, once per engine: a SQLite file, then a
    fresh database on the session's PostgreSQL. A test taking it runs twice."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def metadata_db(metadata_url: str) -> Iterator[Any]:
    """A migrated, empty metadata database on each engine (see ``metadata_url``)."""
    from stacklens.metadata.db import MetadataDB

    db = MetadataDB(metadata_url)
    yield db
    db.close()
