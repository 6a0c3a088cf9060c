"""Keys and stacks, on SQLite and on PostgreSQL (``metadata_db`` runs each test twice)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from stacklens.metadata import KeyRing, MetadataDB, Role, StackRegistry
from stacklens.metadata.keys import hash_key
from stacklens.metadata.tables import api_keys
from stacklens.testing import ManualClock, SequentialIds


@pytest.fixture
def ring(metadata_db: MetadataDB) -> KeyRing:
    return KeyRing(metadata_db, clock=ManualClock(), new_id=SequentialIds("k"))


def stored_text(db: MetadataDB) -> str:
    """Every value of every row of ``api_keys``, as text: what a stolen database holds."""
    with db.engine.connect() as con:
        rows = con.execute(sa.select(api_keys)).all()
    return " ".join(str(value) for row in rows for value in row)


def test_keys_are_random_long_and_stored_only_as_hashes(
    ring: KeyRing, metadata_db: MetadataDB
) -> None:
    _, key1 = ring.create("ingest")
    _, key2 = ring.create("ingest")
    assert key1 != key2 and len(key1) >= 43  # 32 random bytes, base64url
    assert key1 not in stored_text(metadata_db) and key2 not in stored_text(metadata_db)
    assert hash_key(key1) in stored_text(metadata_db)


def test_the_sqlite_file_holds_no_key(tmp_path: Path) -> None:
    ring = KeyRing(MetadataDB.in_data_dir(tmp_path))
    _, key = ring.create("ingest")
    raw = (tmp_path / "metadata.sqlite").read_bytes()
    for wal in tmp_path.glob("metadata.sqlite-*"):
        raw += wal.read_bytes()
    assert key.encode() not in raw and key[:12].encode() not in raw


def test_authenticate_roles_stack_and_revoke(ring: KeyRing) -> None:
    record, key = ring.create(Role.READ, stack="john-dev")
    principal = ring.authenticate(key)
    assert principal is not None
    assert principal.role is Role.READ and principal.stack == "john-dev"
    assert principal.can_read() and not principal.can_write()
    assert ring.authenticate("slk_wrong") is None
    assert ring.revoke(record.key_id)
    assert ring.authenticate(key) is None
    assert not ring.revoke(record.key_id)  # already revoked


def test_bootstrap_secret_is_adopted(ring: KeyRing) -> None:
    given = "x" * 40
    ring.create("admin", secret=given)
    assert ring.has_admin()
    principal = ring.authenticate(given)
    assert principal is not None and principal.role is Role.ADMIN
    with pytest.raises(ValueError, match="32 characters"):
        ring.create("admin", secret="short")


def test_stacks_register_once(metadata_db: MetadataDB) -> None:
    registry = StackRegistry(metadata_db)
    registry.ensure({"b", "a"})
    registry.ensure({"a", "c"})
    assert [s.name for s in registry.list()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="must match"):
        registry.create("Not Valid")


def test_no_part_of_a_key_is_stored_and_ids_are_not_derived_from_keys(
    ring: KeyRing, metadata_db: MetadataDB
) -> None:
    record, key = ring.create("ingest", label="ci")
    # Not even the key's first characters (once stored in clear as its "prefix").
    assert key[:12] not in stored_text(metadata_db)
    assert key[4:12] not in record.key_id
    assert not hasattr(record, "prefix")


def test_revoke_by_id_revokes_that_key_only(ring: KeyRing) -> None:
    # Two bootstrap-style keys chosen with the same first 12 characters.
    first, key1 = ring.create("admin", secret="slk_shared__" + "a" * 30)
    _, key2 = ring.create("admin", secret="slk_shared__" + "b" * 30)
    assert not ring.revoke("slk_shared__")  # a shared prefix names no key
    assert ring.authenticate(key1) is not None and ring.authenticate(key2) is not None
    assert ring.revoke(first.key_id)
    assert ring.authenticate(key1) is None
    assert ring.authenticate(key2) is not None


def test_prefixes_written_by_an_older_version_are_blanked_at_open(metadata_url: str) -> None:
    db = MetadataDB(metadata_url)
    _, key = KeyRing(db).create("read")
    with db.engine.begin() as con:  # as the old version wrote it
        con.execute(api_keys.update().values(prefix=key[:12]))
    db.close()
    reopened = MetadataDB(metadata_url)
    with reopened.engine.connect() as con:
        assert con.execute(sa.select(api_keys.c.prefix)).scalars().all() == [""]
    assert KeyRing(reopened).authenticate(key) is not None


def test_keys_list_in_creation_order_with_ties_broken_by_id(metadata_db: MetadataDB) -> None:
    clock = ManualClock()
    ids = iter(["k3", "k1", "k2", "k0"])
    ring = KeyRing(metadata_db, clock=clock, new_id=lambda: next(ids))
    for _ in range(3):
        ring.create("read")  # k3, k1, k2 at one instant
    clock.advance(1)
    ring.create("read")  # k0, a second later
    assert [k.key_id for k in ring.list()] == ["k1", "k2", "k3", "k0"]


def test_text_that_does_not_fit_its_column_is_refused(metadata_db: MetadataDB) -> None:
    ring, registry = KeyRing(metadata_db), StackRegistry(metadata_db)
    with pytest.raises(ValueError, match="label: at most 200"):
        ring.create("read", label="x" * 201)
    with pytest.raises(ValueError, match="NUL"):
        ring.create("read", label="a\x00b")
    with pytest.raises(ValueError, match="description: at most 500"):
        registry.create("alpha", description="d" * 501)
    assert ring.list() == [] and registry.list() == []
    record, _ = ring.create("read", label="x" * 200)  # exactly the limit fits
    assert record.label == "x" * 200
    assert [k.label for k in ring.list()] == ["x" * 200]


def test_stack_names_list_in_byte_order(metadata_db: MetadataDB) -> None:
    registry = StackRegistry(metadata_db)
    registry.ensure({"a-c", "ab", "a.b", "a_b", "a0"})
    # Byte order, as Python sorts: '-' < '.' < '0' < '_' < 'b'.
    assert [s.name for s in registry.list()] == ["a-c", "a.b", "a0", "a_b", "ab"]
