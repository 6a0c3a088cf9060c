"""The web console: server-rendered pages (Jinja2, autoescaped) with Plotly charts,
served by the hub itself (no CDN, no build step).

Wire it with :func:`install_console` at the end of ``create_app``; let console sessions
read the JSON API (GET/HEAD only) with :func:`stacklens.web.session.session_principal`
in ``api/auth.py``'s ``require``. Imports are deferred so ``api/auth.py`` can import
:mod:`stacklens.web.session` without a cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from fastapi import FastAPI

    from stacklens.server import Hub

__all__ = ["STATIC_DIR", "install_console"]

STATIC_DIR: Final = Path(__file__).parent / "static"


def install_console(app: FastAPI, hub: Hub, *, session_ttl_s: int = 12 * 3600) -> None:
    """Add the console to ``app``: its pages at ``/``, its static files at ``/static``
    (``/static/vendor/plotly.min.js`` from the installed ``plotly`` package) and the
    session store the API's cookie fallback reads (``app.state.console_sessions``)."""
    from fastapi.staticfiles import StaticFiles

    from stacklens.web import forms
    from stacklens.web.routes import Console, router

    console = Console(hub, session_ttl_s=session_ttl_s)
    app.state.console = console
    app.state.console_sessions = console.sessions
    app.include_router(router)
    app.include_router(forms.router)  # before the /static mount: it serves /static/vendor
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="console-static")
