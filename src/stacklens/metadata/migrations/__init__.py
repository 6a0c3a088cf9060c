"""Alembic migrations of the metadata database (``env.py``, ``versions/``).

Applied by :func:`stacklens.metadata.migrate.upgrade_to_head` whenever a
:class:`~stacklens.metadata.MetadataDB` opens; the same revisions serve SQLite and
PostgreSQL.
"""
