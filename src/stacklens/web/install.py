"""Installing the console on the composition root's app."""

from __future__ import annotations

import functools

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from stacklens.api.auth import SESSIONS
from stacklens.web import STATIC_DIR, forms
from stacklens.web.console_hub import ConsoleHub
from stacklens.web.routes import Console, router
from stacklens.web.session import session_principal

__all__ = ["install_console"]


def install_console(
    app: FastAPI, hub: ConsoleHub, *, secret_key: bytes, session_ttl_s: int = 12 * 3600
) -> None:
    """Add the console to ``app``: its pages at ``/``, its static files at ``/static``
    (``/static/vendor/plotly.min.js`` from the installed ``plotly`` package) and the
    session lookup the API's cookie fallback uses (:data:`stacklens.api.auth.SESSIONS`)."""
    console = Console(hub, secret_key=secret_key, session_ttl_s=session_ttl_s)
    app.state.console = console
    SESSIONS.provide(app, functools.partial(session_principal, console.sessions))
    app.include_router(router)
    app.include_router(forms.router)  # before the /static mount: it serves /static/vendor
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="console-static")
