"""Alembic migrations of the metadata database (``env.py``, ``versions/``).

Applied by :func:`stacklens.metadata.migrate.upgrade_to_head` whenever a
:class:`~stacklens.metadata.MetadataDB` opens; the same revisions serve SQLite and
PostgreSQL (``render_as_batch`` on SQLite, whose ALTER TABLE is limited).

A new revision, after changing a declared table: open a database at head, then
autogenerate against the declared tables and review what it wrote::

    from alembic import command
    from stacklens.metadata import MetadataDB
    from stacklens.metadata.declared import declared_metadata
    from stacklens.metadata.migrate import alembic_config

    db = MetadataDB("sqlite:////tmp/head.sqlite")
    with db.engine.connect() as con:
        command.revision(alembic_config(con, declared_metadata()), "what changed",
                         autogenerate=True, rev_id="0002")

``tests/metadata/test_migrations.py`` fails until the migrations and the declared
tables agree again.
"""
