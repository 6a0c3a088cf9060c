"""The metadata database engine: a SQLite file by default, PostgreSQL for several hubs.

Opening one migrates it to the newest schema (:mod:`stacklens.metadata.migrate`). A
URL that cannot be used — not a URL, a driver that is not installed, a server that
does not answer or refuses the login — raises :class:`MetadataUnavailableError`, whose
message is one line naming the URL with its password masked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from stacklens.metadata.migrate import UpgradeResult, upgrade_to_head

__all__ = ["MetadataDB", "MetadataUnavailableError", "masked_url"]

#: Seconds a PostgreSQL connection attempt may take (libpq waits forever by default,
#: so a firewalled host would hang the hub's start instead of failing it).
CONNECT_TIMEOUT_S: Final = 10


class MetadataUnavailableError(Exception):
    """The metadata database cannot be opened; ``str()`` is one line for the user."""


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs)."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        # Not parseable as a URL: show the scheme only, the rest may be a secret.
        return url.split("://", 1)[0] + "://…" if "://" in url else "(not a URL)"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the CLI read and write keys beside a running hub.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _create_engine(url: str) -> sa.Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise MetadataUnavailableError(
            f"metadata database URL {masked_url(url)!r} is not a database URL "
            "(expected sqlite:///path or postgresql+psycopg://user:password@host:5432/db)"
        ) from None
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        engine = sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = (
            " (pip install 'stacklens[postgres]')"
            if parsed.get_backend_name() == "postgresql"
            else ""
        )
        raise MetadataUnavailableError(
            f"metadata database {masked_url(url)}: driver {parsed.drivername!r} "
            f"is not available{hint}: {_first_line(exc)}"
        ) from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _first_line(exc: BaseException, secret: str | None = None) -> str:
    """The first line of a driver's message, without the password in any form."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    if secret:
        text = text.replace(secret, "***")
    return text


class MetadataDB:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        password = self.engine.url.password
        try:
            self.migration: UpgradeResult = upgrade_to_head(self.engine)
            self.forget_key_prefixes()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            self.engine.dispose()
            raise MetadataUnavailableError(
                f"metadata database {masked_url(url)} is unreachable: "
                f"{_first_line(exc, str(password) if password else None)}"
            ) from None
        except sa.exc.DBAPIError as exc:
            self.engine.dispose()
            raise MetadataUnavailableError(
                f"metadata database {masked_url(url)} cannot be migrated: "
                f"{_first_line(exc, str(password) if password else None)}"
            ) from None
        except BaseException:
            self.engine.dispose()
            raise

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

    @classmethod
    def open(cls, url: str | None, data_dir: Path) -> MetadataDB:
        """``url`` (``STACKLENS_METADATA_URL``) when set, else the data dir's SQLite."""
        return cls(url) if url else cls.in_data_dir(data_dir)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ping(self) -> None:
        with self.engine.connect() as con:
            con.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    def backup(self, dest: Path) -> None:
        """An online, consistent copy of a SQLite metadata database. Other engines have
        their own tools (``pg_dump`` for PostgreSQL): :class:`ValueError`, which the
        backup API answers with 409."""
        if self.engine.dialect.name != "sqlite":
            raise ValueError(
                f"the metadata database is {self.engine.dialect.name} "
                f"({masked_url(self.url)}): back it up with its own tools "
                "(pg_dump for PostgreSQL); this backup holds the events store and data dir"
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
