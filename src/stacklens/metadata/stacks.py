"""Stacks: the deployed AI stacks reporting to the hub."""

from __future__ import annotations

import contextlib

import msgspec
import sqlalchemy as sa

from stacklens.ids import Clock, system_clock_ns
from stacklens.metadata.db import MetadataDB
from stacklens.metadata.tables import stacks
from stacklens.metadata.text_bounds import bounded_text
from stacklens.privacy.freetext import scrub_free_text, scrub_health_url
from stacklens.schema import STACK_NAME_RE

__all__ = ["Stack", "StackExistsError", "StackRegistry"]


class Stack(msgspec.Struct, frozen=True):
    name: str
    created_ns: int
    description: str | None = None
    health_url: str | None = None


class StackExistsError(ValueError):
    pass


class StackRegistry:
    def __init__(self, db: MetadataDB, *, clock: Clock = system_clock_ns) -> None:
        self._db = db
        self._clock = clock

    def create(
        self, name: str, *, description: str | None = None, health_url: str | None = None
    ) -> Stack:
        if not STACK_NAME_RE.fullmatch(name):
            raise ValueError("stack name must match [a-z0-9][a-z0-9_.-]{0,62}")
        # Free text reaches disk too: secrets in it are replaced (issue 11).
        stack = Stack(
            name,
            self._clock(),
            bounded_text(scrub_free_text(description), stacks.c.description, "description"),
            bounded_text(scrub_health_url(health_url), stacks.c.health_url, "health_url"),
        )
        with self._db.engine.begin() as con:
            if con.execute(sa.select(stacks.c.name).where(stacks.c.name == name)).first():
                raise StackExistsError(f"stack {name!r} already exists")
            con.execute(stacks.insert().values(msgspec.structs.asdict(stack)))
        return stack

    def ensure(self, names: set[str]) -> None:
        """Register stacks first seen in ingested events."""
        if not names:
            return
        with self._db.engine.connect() as con:
            known = set(con.scalars(sa.select(stacks.c.name).where(stacks.c.name.in_(names))))
        for name in sorted(names - known):
            # Another request (or process) may register the same stack at the same time.
            with contextlib.suppress(sa.exc.IntegrityError), self._db.engine.begin() as con:
                con.execute(stacks.insert().values(name=name, created_ns=self._clock()))

    def get(self, name: str) -> Stack | None:
        with self._db.engine.connect() as con:
            row = con.execute(sa.select(stacks).where(stacks.c.name == name)).mappings().first()
        return Stack(**row) if row else None

    def list(self) -> list[Stack]:
        with self._db.engine.connect() as con:
            rows = con.execute(sa.select(stacks).order_by(stacks.c.name)).mappings().all()
        # Sorted here too: a PostgreSQL collation may order names unlike SQLite's bytes.
        return sorted((Stack(**row) for row in rows), key=lambda stack: stack.name)
