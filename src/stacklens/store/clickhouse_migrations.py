"""Versioned ClickHouse migrations, in two forms with the same columns (as Langfuse
keeps them): ``migrations/clickhouse/unclustered`` for a single node and
``migrations/clickhouse/clustered`` (``ON CLUSTER '{cluster}'``, ``Replicated*``
engines) for a cluster. Files are ``NNNN_name.up.sql``, statements separated by
``;`` at a line's end; the versions applied are recorded in ``schema_migrations``.

Every statement is idempotent (``IF NOT EXISTS``), so a migration interrupted half
way is simply applied again.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any, Final, NamedTuple, Protocol

from stacklens.store.clickhouse_tables import MIGRATIONS_TABLE

__all__ = ["Migration", "apply", "migrations", "split_statements"]

_NAME: Final = re.compile(r"(\d{4})_([a-z0-9_]+)\.up\.sql")


class Migration(NamedTuple):
    version: int
    name: str
    statements: tuple[str, ...]


class _Client(Protocol):
    def command(
        self, cmd: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any: ...

    def query(
        self, query: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any: ...


def split_statements(text: str) -> tuple[str, ...]:
    """The statements of a migration file (``--`` comment lines dropped)."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return tuple(s.strip() for s in re.split(r";\s*$", body, flags=re.MULTILINE) if s.strip())


def migrations(*, clustered: bool) -> list[Migration]:
    """Every migration of one form, oldest first."""
    folder = resources.files("stacklens.store").joinpath(
        "migrations", "clickhouse", "clustered" if clustered else "unclustered"
    )
    found = []
    for entry in folder.iterdir():
        matched = _NAME.fullmatch(entry.name)
        if matched:
            text = entry.read_text(encoding="utf-8")
            found.append(Migration(int(matched[1]), matched[2], split_statements(text)))
    return sorted(found)


def _ledger_ddl(clustered: bool) -> str:
    where = " ON CLUSTER '{cluster}'" if clustered else ""
    engine = "ReplicatedReplacingMergeTree" if clustered else "ReplacingMergeTree"
    return (
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}{where} (version UInt32, name String, "
        f"applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = {engine} ORDER BY version"
    )


def apply(client: _Client, *, clustered: bool = False) -> list[int]:
    """Apply the migrations not recorded yet; the versions applied now."""
    client.command(_ledger_ddl(clustered))
    done = {
        int(row[0]) for row in client.query(f"SELECT version FROM {MIGRATIONS_TABLE}").result_rows
    }
    applied = []
    for migration in migrations(clustered=clustered):
        if migration.version in done:
            continue
        for statement in migration.statements:
            client.command(statement)
        client.command(
            f"INSERT INTO {MIGRATIONS_TABLE} (version, name) VALUES ({{v:UInt32}}, {{n:String}})",
            parameters={"v": migration.version, "n": migration.name},
        )
        applied.append(migration.version)
    return applied
