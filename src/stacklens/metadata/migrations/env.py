"""Alembic's environment for the metadata migrations.

Run through a ``Config`` from :func:`stacklens.metadata.migrate.alembic_config`, built
in code with an open connection in ``config.attributes["connection"]``: no
``alembic.ini`` and no URL here (see the package's docstring for a new revision).
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
