"""Metadata apart from events: stacks, API keys (SQLite by default, PostgreSQL-ready)."""

from stacklens.metadata.db import MetadataDB
from stacklens.metadata.keys import ApiKey, KeyRing, Principal, Role
from stacklens.metadata.stacks import Stack, StackRegistry

__all__ = ["ApiKey", "KeyRing", "MetadataDB", "Principal", "Role", "Stack", "StackRegistry"]
