"""Insert-or-update one row by its key, as one statement on SQLite and PostgreSQL.

A delete followed by an insert is two statements: two hub replicas doing it for the
same key at once can both delete and then both insert, and the second insert fails on
the primary key. ``INSERT ... ON CONFLICT DO UPDATE`` (both engines spell it the same;
SQLAlchemy has it per dialect) cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["upsert"]


def upsert(
    connection: sa.Connection, table: sa.Table, values: Mapping[str, Any], key: Sequence[str]
) -> None:
    """Write ``values`` as the row whose ``key`` columns they hold."""
    dialect = connection.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        # Another engine: the two-statement form, inside the caller's transaction.
        match = sa.and_(*(table.c[name] == values[name] for name in key))
        connection.execute(table.delete().where(match))
        connection.execute(table.insert().values(dict(values)))
        return
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(
        dict(values)
    )
    changed = {name: insert.excluded[name] for name in values if name not in key}
    connection.execute(
        insert.on_conflict_do_update(index_elements=[table.c[name] for name in key], set_=changed)
    )
