"""Bringing a metadata database to the newest schema with Alembic, at every open.

The migrations (``stacklens/metadata/migrations``) are the one thing that creates or
changes metadata tables; the tables declared in code (``metadata.tables`` and the
modules that add theirs to its ``MetaData``) only describe them, and a test checks
that the two agree. The Alembic ``Config`` is built here, so nothing needs an
``alembic.ini`` at run time.

Two processes may open one database at the same moment (two hub replicas starting, a
CLI beside a hub), so the upgrade runs under a lock that the database itself holds:
a PostgreSQL advisory transaction lock, SQLite's write lock (``BEGIN IMMEDIATE``). The
second process waits, then finds the schema at head and does nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

__all__ = [
    "BASELINE_REVISION",
    "MIGRATIONS_DIR",
    "MIGRATION_LOCK_KEY",
    "UpgradeResult",
    "alembic_config",
    "current_revision",
    "head_revision",
    "upgrade_to_head",
]

# The standard library's logging, not structlog: a CLI command opening the database
# must print nothing but its own output.
log = logging.getLogger(__name__)

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
#: The revision that describes the schema of the versions before migrations.
BASELINE_REVISION: Final = "0001"
#: The PostgreSQL advisory lock key the upgrade holds (64-bit, from a fixed name, so
#: it cannot collide with another lock of the hub by accident).
MIGRATION_LOCK_KEY: Final = int.from_bytes(
    hashlib.sha256(b"stacklens.metadata.migrate").digest()[:8], "big", signed=True
)
#: Tables the versions before migrations created with ``create_all``: any of them in a
#: database without ``alembic_version`` marks one of those databases.
_LEGACY_TABLES: Final = frozenset(
    {
        "stacks",
        "api_keys",
        "alert_states",
        "alert_history",
        "alert_silences",
        "alert_nflog",
        "alert_notifications",
        "budgets",
        "erasures",
        "console_sessions",
    }
)


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None
    after: str | None
    #: The database was written by a version before migrations (tables, no
    #: ``alembic_version``): the baseline adopted it as it stood.
    adopted: bool


def alembic_config(
    connection: sa.Connection | None = None, target_metadata: sa.MetaData | None = None
) -> Config:
    """An Alembic ``Config`` for the packaged migrations, built in code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # New revision files get names that are module names (mypy checks them).
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    if target_metadata is not None:
        config.attributes["target_metadata"] = target_metadata
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no metadata migrations packaged"
    return head


def current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _lock(connection: sa.Connection) -> None:
    """Take the database's own lock for the rest of this transaction."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
        )
    elif dialect == "sqlite":
        # pysqlite would begin only before the first DML; an explicit BEGIN IMMEDIATE
        # takes the write lock now (busy_timeout waits for another writer), and the DDL
        # that follows runs inside it.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.begin()


def upgrade_to_head(engine: sa.Engine) -> UpgradeResult:
    """Apply every migration the database lacks, in one locked transaction."""
    with engine.connect() as connection:
        _lock(connection)
        before = current_revision(connection)
        adopted = False
        if before is None:
            existing = set(sa.inspect(connection).get_table_names())
            adopted = bool(existing & _LEGACY_TABLES)
            if adopted:
                log.info(
                    "adopting a metadata database from before migrations as %s (tables: %s)",
                    BASELINE_REVISION,
                    ", ".join(sorted(existing & _LEGACY_TABLES)),
                )
        # The connection is in a transaction already, so Alembic runs inside it.
        command.upgrade(alembic_config(connection), "head")
        after = current_revision(connection)
        connection.commit()
    if before != after:
        log.info("metadata database migrated from %s to %s", before or "empty", after)
    return UpgradeResult(before, after, adopted)
