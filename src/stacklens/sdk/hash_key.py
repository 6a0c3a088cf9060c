"""The key the SDK hashes with, and the redactor keyed with it (the SDK's side of
:mod:`stacklens.privacy`).

The same engine runs here and at the hub; the hub enforces whatever the client did.
A keyed hash needs a key: ``STACKLENS_HASH_KEY`` when set (so hashes made here match the
hub's if the deployment shares the key), else a random per-process key. A random key
is fine for what the SDK hashes locally (logs, spilled events): what matters there is
that no raw value is kept, not that hashes compare across processes.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stacklens.privacy import Redactor

__all__ = ["hash_key_from_env", "make_redactor"]

_HASH_KEY_ENV = "STACKLENS_HASH_KEY"


def hash_key_from_env(environ: dict[str, str] | None = None) -> bytes | None:
    value = (os.environ if environ is None else environ).get(_HASH_KEY_ENV, "")
    return value.encode() if value else None


def make_redactor(key: bytes | None = None, **kwargs: Any) -> Redactor:
    """A :class:`stacklens.privacy.Redactor` keyed with ``key``, the env key or random."""
    from stacklens.privacy import Redactor

    return Redactor(key or hash_key_from_env() or os.urandom(32), **kwargs)
