"""Metadata tables, declared once in SQLAlchemy Core (portable SQLite/PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["api_keys", "metadata", "stacks"]

metadata = sa.MetaData()

stacks = sa.Table(
    "stacks",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("health_url", sa.String(2000), nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(26), primary_key=True),
    # SHA-256 of the key: keys are 32 random bytes, so a fast hash is enough and a
    # stolen metadata file yields nothing usable.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    # Once the key's first 12 characters, in clear; now always empty (see
    # ``MetadataDB.forget_key_prefixes``). Kept so existing files need no table rebuild.
    sa.Column("prefix", sa.String(16), nullable=False, default=""),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("stack_name", sa.String(63), nullable=True),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("revoked_ns", sa.BigInteger, nullable=True),
)
