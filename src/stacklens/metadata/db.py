"""The metadata database engine (SQLite file by default, any SQLAlchemy URL works)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from stacklens.metadata.tables import metadata

__all__ = ["MetadataDB"]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the CLI read and write keys beside a running hub.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


class MetadataDB:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        self.forget_key_prefixes()

    def forget_key_prefixes(self) -> None:
        """Earlier versions stored each key's first 12 characters in clear; blank them
        (idempotent, at every open: a database written by an old version is cleaned
        the first time a new one opens it)."""
        from stacklens.metadata.tables import api_keys

        with self.engine.begin() as con:
            con.execute(api_keys.update().where(api_keys.c.prefix != "").values(prefix=""))

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> MetadataDB:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{data_dir / 'metadata.sqlite'}")

    def ping(self) -> None:
        with self.engine.connect() as con:
            con.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    def backup(self, dest: Path) -> None:
        """An online, consistent copy of a SQLite metadata database (other engines have
        their own tools: ``pg_dump`` for PostgreSQL)."""
        if self.engine.dialect.name != "sqlite":
            raise ValueError(
                f"back up a {self.engine.dialect.name} metadata database with its own tools"
            )
        import sqlite3

        raw = self.engine.raw_connection()
        try:
            target = sqlite3.connect(dest)
            try:
                raw.driver_connection.backup(target)  # type: ignore[union-attr]
            finally:
                target.close()
        finally:
            raw.close()
