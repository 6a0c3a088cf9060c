"""The metadata migrations: they alone make the schema, it is the declared one, they
adopt databases of the versions before them, and concurrent opens do not race."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import stacklens
from stacklens.metadata import KeyRing, MetadataDB, StackRegistry
from stacklens.metadata.declared import declared_metadata
from stacklens.metadata.keys import hash_key
from stacklens.metadata.migrate import (
    BASELINE_REVISION,
    MIGRATION_LOCK_KEY,
    alembic_config,
    head_revision,
)
from stacklens.testing.postgres import PostgresServer

SOURCE = Path(stacklens.__file__).parent


def schema_diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as con:
        context = MigrationContext.configure(con, opts={"compare_type": True})
        return list(compare_metadata(context, declared_metadata()))


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def tables_declared_in_source() -> set[str]:
    """Every ``sa.Table("name", ...)`` anywhere in the package, on any MetaData."""
    names: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "Table"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(node.args[0].value)
    return names


def test_migrations_create_exactly_the_declared_schema(metadata_db: MetadataDB) -> None:
    # Nothing but the migrations ran (no create_all anywhere): the tables exist, and
    # autogenerate finds nothing to add, drop or alter against the declared tables.
    assert table_names(metadata_db.engine) == set(declared_metadata().tables)
    assert schema_diff(metadata_db.engine) == []
    assert metadata_db.migration.before is None
    assert metadata_db.migration.after == head_revision()


def test_every_table_in_the_source_is_declared_and_migrated(metadata_db: MetadataDB) -> None:
    in_source = tables_declared_in_source()
    assert len(in_source) == 11, sorted(in_source)
    assert in_source == set(declared_metadata().tables) == table_names(metadata_db.engine)


def test_reopening_at_head_changes_nothing(metadata_url: str) -> None:
    first = MetadataDB(metadata_url)
    KeyRing(first).create("read", label="kept")
    first.close()
    again = MetadataDB(metadata_url)
    assert (again.migration.before, again.migration.after) == (head_revision(),) * 2
    assert [k.label for k in KeyRing(again).list()] == ["kept"]
    again.close()


def test_downgrade_to_base_and_up_again(metadata_db: MetadataDB) -> None:
    with metadata_db.engine.begin() as con:
        command.downgrade(alembic_config(con), "base")
    assert table_names(metadata_db.engine) == set()
    metadata_db.close()
    reopened = MetadataDB(metadata_db.url)
    assert schema_diff(reopened.engine) == []
    reopened.close()


def _old_version_database(url: str, tables: list[str] | None = None) -> str:
    """What a version before migrations left: ``create_all`` of the declared tables
    (``tables`` of them only: budgets and console sessions came on first use), no
    ``alembic_version``, a key and a stack in it. Returns the key."""
    engine = sa.create_engine(url)
    declared = declared_metadata()
    chosen = None if tables is None else [declared.tables[name] for name in tables]
    declared.create_all(engine, tables=chosen)
    key = "slk_" + "o" * 40
    with engine.begin() as con:
        con.execute(
            declared.tables["api_keys"]
            .insert()
            .values(
                key_id="01OLDKEY",
                key_hash=hash_key(key),
                prefix=key[:12],  # the old versions kept the first characters in clear
                role="admin",
                created_ns=1,
            )
        )
        con.execute(declared.tables["stacks"].insert().values(name="old-stack", created_ns=2))
    assert "alembic_version" not in sa.inspect(engine).get_table_names()
    engine.dispose()
    return key


def test_a_database_of_a_version_before_migrations_is_adopted(metadata_url: str) -> None:
    key = _old_version_database(metadata_url)
    db = MetadataDB(metadata_url)
    assert db.migration.adopted
    assert (db.migration.before, db.migration.after) == (None, head_revision())
    assert schema_diff(db.engine) == []
    principal = KeyRing(db).authenticate(key)
    assert principal is not None and principal.key_id == "01OLDKEY"
    assert [s.name for s in StackRegistry(db).list()] == ["old-stack"]
    with db.engine.connect() as con:
        assert con.scalar(sa.text("SELECT prefix FROM api_keys")) == ""
        assert con.scalars(sa.text("SELECT version_num FROM alembic_version")).all() == [
            head_revision()
        ]
    db.close()


def test_an_old_database_missing_later_tables_is_completed(metadata_url: str) -> None:
    old = ["stacks", "api_keys", "alert_states", "alert_history", "alert_silences"]
    key = _old_version_database(metadata_url, old)
    engine = sa.create_engine(metadata_url)
    assert table_names(engine) == set(old)
    engine.dispose()
    db = MetadataDB(metadata_url)
    assert db.migration.adopted
    assert table_names(db.engine) == set(declared_metadata().tables)
    assert schema_diff(db.engine) == []
    assert KeyRing(db).authenticate(key) is not None
    db.close()


def test_baseline_is_the_first_revision() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    assert [r.revision for r in script.walk_revisions()][-1] == BASELINE_REVISION


OPEN_ONCE = """
import sys
from stacklens.metadata import MetadataDB
db = MetadataDB(sys.argv[1])
print(db.migration.before or "none", db.migration.after)
db.close()
"""


def _open_at_once(url: str, processes: int) -> list[str]:
    env_path = str(SOURCE.parent)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_ONCE, url],
            env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def test_processes_opening_one_new_database_at_once_do_not_race(metadata_url: str) -> None:
    outputs = _open_at_once(metadata_url, 4)
    head = head_revision()
    # Exactly one of them migrated an empty database; the others found it at head.
    assert sorted(outputs) == sorted([f"none {head}"] + [f"{head} {head}"] * 3)
    db = MetadataDB(metadata_url)
    with db.engine.connect() as con:
        assert con.scalars(sa.text("SELECT version_num FROM alembic_version")).all() == [head]
    assert schema_diff(db.engine) == []
    db.close()


def test_the_upgrade_waits_for_the_postgresql_advisory_lock(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    holder = sa.create_engine(postgres_url)
    opened: list[MetadataDB] = []
    with holder.connect() as con:
        con.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        con.commit()
        opener = threading.Thread(target=lambda: opened.append(MetadataDB(postgres_url)))
        opener.start()
        time.sleep(1.0)
        # Blocked on the lock: nothing created yet.
        assert opened == []
        assert table_names(holder) == set()
        con.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
        con.commit()
    opener.join(timeout=30)
    assert len(opened) == 1 and opened[0].migration.after == head_revision()
    opened[0].close()
    holder.dispose()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "is not a database URL"),
        ("nosuchdb://u:pw@h/x", "is not available"),
        ("postgresql+psycopg://u:secret@127.0.0.1:1/x", "is unreachable"),
    ],
)
def test_an_unusable_url_is_one_line_without_the_password(url: str, says: str) -> None:
    from stacklens.metadata.db import MetadataUnavailableError

    with pytest.raises(MetadataUnavailableError) as caught:
        MetadataDB(url)
    message = str(caught.value)
    assert says in message and "\n" not in message
    assert "secret" not in message and "pw@" not in message
