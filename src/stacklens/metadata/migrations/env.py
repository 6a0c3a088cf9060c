"""Alembic's environment for the metadata migrations.

Run only through :func:`stacklens.metadata.migrate.upgrade_to_head` (or
:func:`~stacklens.metadata.migrate.new_revision` for a developer), which build the
Alembic ``Config`` in code and hand over an open connection in
``config.attributes["connection"]``: no ``alembic.ini`` and no URL here.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    # Only autogenerate needs the declared tables; an upgrade imports none of them.
    target_metadata=context.config.attributes.get("target_metadata"),
    # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
