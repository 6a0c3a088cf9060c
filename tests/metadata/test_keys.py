from __future__ import annotations

from pathlib import Path

import pytest

from stacklens.metadata import KeyRing, MetadataDB, Role, StackRegistry
from stacklens.testing import ManualClock, SequentialIds


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return KeyRing(MetadataDB.in_data_dir(tmp_path), clock=ManualClock(), new_id=SequentialIds("k"))


def test_keys_are_random_long_and_stored_only_as_hashes(ring: KeyRing, tmp_path: Path) -> None:
    _, key1 = ring.create("ingest")
    _, key2 = ring.create("ingest")
    assert key1 != key2 and len(key1) >= 43  # 32 random bytes, base64url
    raw = (tmp_path / "metadata.sqlite").read_bytes()
    for wal in tmp_path.glob("metadata.sqlite-*"):
        raw += wal.read_bytes()
    assert key1.encode() not in raw and key2.encode() not in raw


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


def test_stacks_register_once(tmp_path: Path) -> None:
    registry = StackRegistry(MetadataDB.in_data_dir(tmp_path))
    registry.ensure({"b", "a"})
    registry.ensure({"a", "c"})
    assert [s.name for s in registry.list()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="must match"):
        registry.create("Not Valid")


def test_no_part_of_a_key_is_stored_and_ids_are_not_derived_from_keys(
    ring: KeyRing, tmp_path: Path
) -> None:
    record, key = ring.create("ingest", label="ci")
    # Not even the key's first characters (once stored in clear as its "prefix").
    raw = (tmp_path / "metadata.sqlite").read_bytes()
    for wal in tmp_path.glob("metadata.sqlite-*"):
        raw += wal.read_bytes()
    assert key[:12].encode() not in raw
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


def test_prefixes_written_by_an_older_version_are_blanked_at_open(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from stacklens.metadata.tables import api_keys

    db = MetadataDB.in_data_dir(tmp_path)
    _, key = KeyRing(db).create("read")
    with db.engine.begin() as con:  # as the old version wrote it
        con.execute(api_keys.update().values(prefix=key[:12]))
    db.close()
    reopened = MetadataDB.in_data_dir(tmp_path)
    with reopened.engine.connect() as con:
        assert con.execute(sa.select(api_keys.c.prefix)).scalars().all() == [""]
    assert KeyRing(reopened).authenticate(key) is not None
