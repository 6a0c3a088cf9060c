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
