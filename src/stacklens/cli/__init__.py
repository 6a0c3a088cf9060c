"""The ``stacklens`` command: one module per command family.

:mod:`.main` holds the top-level group, ``serve``, ``keys``, ``stacks``, ``privacy``,
``send`` and ``demo``; the families that need the server extra (:mod:`.costs`,
:mod:`.alerts`, :mod:`.backup`, :mod:`.quarantine`) are imported only when used, so the
base install (the SDK and ``send``) runs without them.
"""

from __future__ import annotations

from stacklens.cli.main import main

__all__ = ["main"]
