"""The web console: server-rendered pages (Jinja2, autoescaped) with Plotly charts,
served by the hub itself (no CDN, no build step).

The composition root installs it with :func:`stacklens.web.install.install_console`,
which also fills the
API's :data:`stacklens.api.auth.SESSIONS` slot: a console session may read the JSON API
(GET/HEAD only). The API knows nothing of the console beyond that slot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["STATIC_DIR"]

#: The console's static files (this package imports none of its modules: they import
#: it, for this).
STATIC_DIR: Final = Path(__file__).parent / "static"
