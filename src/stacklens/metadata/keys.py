"""API keys: random, shown once, stored only as hashes.

Roles: ``ingest`` writes events, ``read`` queries, ``admin`` does both and manages. A
key bound to a stack reaches that stack only.
"""

from __future__ import annotations

import enum
import hashlib
import secrets

import msgspec
import sqlalchemy as sa

from stacklens.ids import Clock, IdFactory, new_ulid, system_clock_ns
from stacklens.metadata.db import MetadataDB
from stacklens.metadata.tables import api_keys
from stacklens.metadata.text_bounds import bounded_text
from stacklens.privacy.freetext import scrub_free_text
from stacklens.schema import STACK_NAME_RE

__all__ = ["KEY_PREFIX", "ApiKey", "KeyRing", "Principal", "Role", "hash_key"]

KEY_PREFIX = "slk_"


class Role(enum.StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


class Principal(msgspec.Struct, frozen=True):
    """Who a request is: the key's id, role and (optionally) its one stack."""

    key_id: str
    role: Role
    stack: str | None = None

    def can_write(self) -> bool:
        return self.role in (Role.INGEST, Role.ADMIN)

    def can_read(self) -> bool:
        return self.role in (Role.READ, Role.ADMIN)

    def visible_stacks(self) -> tuple[str, ...] | None:
        """The stacks this key may read; ``None`` means all."""
        return None if self.stack is None else (self.stack,)


class ApiKey(msgspec.Struct, frozen=True):
    #: A random id, not derived from the key: what lists show and revokes name.
    key_id: str
    role: Role
    stack_name: str | None
    label: str | None
    created_ns: int
    revoked_ns: int | None = None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    def __init__(
        self, db: MetadataDB, *, clock: Clock = system_clock_ns, new_id: IdFactory = new_ulid
    ) -> None:
        self._db = db
        self._clock = clock
        self._new_id = new_id

    def create(
        self,
        role: Role | str,
        *,
        stack: str | None = None,
        label: str | None = None,
        secret: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Create a key; returns its record and the key itself (the only time it is seen).

        ``secret`` adopts a given key (``STACKLENS_BOOTSTRAP_ADMIN_KEY``) instead of
        generating one.
        """
        role = Role(role)
        if stack is not None and not STACK_NAME_RE.fullmatch(stack):
            raise ValueError("stack name must match [a-z0-9][a-z0-9_.-]{0,62}")
        if secret is not None and len(secret) < 32:
            raise ValueError("a key must be at least 32 characters long")
        key = secret or KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(
            key_id=self._new_id(),
            role=role,
            stack_name=stack,
            # Free text on disk: no secret in it, and it must fit its column.
            label=bounded_text(scrub_free_text(label), api_keys.c.label, "label"),
            created_ns=self._clock(),
        )
        with self._db.engine.begin() as con:
            con.execute(
                # ``prefix`` is kept empty: the key's first characters are part of the
                # secret (and a user-chosen bootstrap key may share them with another).
                api_keys.insert().values(
                    key_hash=hash_key(key), prefix="", **msgspec.structs.asdict(record)
                )
            )
        return record, key

    def adopt(self, role: Role | str, secret: str, *, label: str | None = None) -> bool:
        """Create the key ``secret`` unless it exists (``True`` when created here).

        Several hub replicas starting at once on one database all adopt the same
        ``STACKLENS_BOOTSTRAP_ADMIN_KEY``: one inserts it, the others find it there.
        """
        try:
            self.create(role, label=label, secret=secret)
        except sa.exc.IntegrityError:
            # The key is there (live, or revoked: then it stays revoked).
            with self._db.engine.connect() as con:
                found = con.execute(
                    sa.select(api_keys.c.key_id).where(api_keys.c.key_hash == hash_key(secret))
                ).first()
            if found is None:
                raise  # some other conflict
            return False
        return True

    def authenticate(self, key: str) -> Principal | None:
        """The principal of a live key, or ``None`` for an unknown or revoked one."""
        with self._db.engine.connect() as con:
            row = con.execute(
                sa.select(api_keys.c.key_id, api_keys.c.role, api_keys.c.stack_name).where(
                    api_keys.c.key_hash == hash_key(key), api_keys.c.revoked_ns.is_(None)
                )
            ).first()
        if row is None:
            return None
        return Principal(key_id=row.key_id, role=Role(row.role), stack=row.stack_name)

    def list(self) -> list[ApiKey]:
        columns = [api_keys.c[name] for name in ApiKey.__struct_fields__]
        with self._db.engine.connect() as con:
            # The id breaks ties of equal creation times the same way on every engine.
            rows = con.execute(
                sa.select(*columns).order_by(api_keys.c.created_ns, api_keys.c.key_id)
            ).mappings()
            return [ApiKey(**row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke the one key with this id; ``False`` when no live key has it."""
        with self._db.engine.begin() as con:
            result = con.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_ns.is_(None))
                .values(revoked_ns=self._clock())
            )
            return bool(result.rowcount)

    def has_admin(self) -> bool:
        with self._db.engine.connect() as con:
            return (
                con.execute(
                    sa.select(api_keys.c.key_id).where(
                        api_keys.c.role == Role.ADMIN.value, api_keys.c.revoked_ns.is_(None)
                    )
                ).first()
                is not None
            )
