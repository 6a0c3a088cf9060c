"""The console's state-changing forms (CSRF-checked, admin only, authorized by
:func:`stacklens.api.authz.authorize` like the API): silences (confined to a bound
key's stack), API keys and stacks (unbound keys only); and ``plotly.min.js`` served from
the installed ``plotly`` package."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from stacklens.alerting.durations import parse_duration
from stacklens.alerting.routing import parse_matcher
from stacklens.api.authz import Forbidden, Scope, authorize
from stacklens.metadata.stacks import StackExistsError
from stacklens.web import pages
from stacklens.web.csrf import FIELD, CsrfError
from stacklens.web.routes import (
    Console,
    _console,
    _context,
    _error,
    _form,
)
from stacklens.web.session import ConsoleSession
from stacklens.web.templating import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_PLOTLY_CACHE: Final = "public, max-age=31536000, immutable"


# -- admin forms ---------------------------------------------------------------------------
async def _checked_post(
    request: Request, *, scope: Scope
) -> tuple[Console, ConsoleSession, dict[str, str]] | Response:
    """The form of a signed-in admin allowed ``scope``, with a valid CSRF token, or the
    error page."""
    console = _console(request)
    form = await _form(request)
    session = await run_in_threadpool(console.sessions.from_request, request)
    if session is None:
        return _error(console, None, 401, "Sign in first.")
    try:
        console.csrf.check_session(request, session.session_id, form.get(FIELD))
    except CsrfError as exc:
        return _error(console, session, 403, exc)
    try:
        authorize(session.principal, scope)
    except Forbidden as exc:
        return _error(console, session, 403, exc)
    return console, session, form


@router.post("/alerts/silences")
async def create_silence(request: Request) -> Response:
    checked = await _checked_post(request, scope="confined")
    if isinstance(checked, Response):
        return checked
    console, session, form = checked
    try:
        matchers = [
            parse_matcher(line.strip())
            for line in form.get("matchers", "").splitlines()
            if line.strip()
        ]
        if not matchers:
            raise ValueError('give at least one matcher, like alertname="HighErrorRate"')
        duration = parse_duration(form.get("duration", "").strip() or "2h")
        store = console.silences()
        await run_in_threadpool(
            lambda: store.add(
                matchers,
                duration_ns=duration,
                created_by=f"console:{session.principal.key_id}",
                comment=form.get("comment", "")[:2000],
                stack=session.principal.stack,
            )
        )
    except PermissionError as exc:
        return _error(console, session, 403, exc)
    except (ValueError, TypeError) as exc:
        return _error(console, session, 400, exc)
    return RedirectResponse("/alerts", status_code=303)


@router.post("/alerts/silences/{silence_id}/expire")
async def expire_silence(request: Request, silence_id: str) -> Response:
    checked = await _checked_post(request, scope="confined")
    if isinstance(checked, Response):
        return checked
    console, session, _ = checked
    stack = session.principal.stack
    if not await run_in_threadpool(lambda: console.silences().expire(silence_id, stack=stack)):
        return _error(console, session, 404, "No unexpired silence with that id.")
    return RedirectResponse("/alerts", status_code=303)


def _admin_result(console: Console, session: ConsoleSession, **extra: Any) -> Response:
    context = _context(
        console, session, None, nav="admin", title="Admin", **pages.admin_page(console.hub), **extra
    )
    return render(console.env, "admin.html", context)


@router.post("/admin/keys")
async def create_key(request: Request) -> Response:
    checked = await _checked_post(request, scope="global")
    if isinstance(checked, Response):
        return checked
    console, session, form = checked
    try:
        record, key = await run_in_threadpool(
            lambda: console.hub.keyring.create(
                form.get("role", ""),
                stack=form.get("stack") or None,
                label=(form.get("label") or None),
            )
        )
    except ValueError as exc:
        message = f"Not created: {exc}"
        return await run_in_threadpool(lambda: _admin_result(console, session, message=message))
    # The key is shown in this response only (never in a URL, never stored).
    return await run_in_threadpool(
        lambda: _admin_result(console, session, new_key=record, new_key_secret=key)
    )


@router.post("/admin/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str) -> Response:
    checked = await _checked_post(request, scope="global")
    if isinstance(checked, Response):
        return checked
    console, session, _ = checked

    def run() -> bool:
        if not console.hub.keyring.revoke(key_id):
            return False
        console.sessions.end_key_sessions(key_id)
        return True

    if not await run_in_threadpool(run):
        return _error(console, session, 404, "No active key with that id.")
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/stacks")
async def create_stack(request: Request) -> Response:
    checked = await _checked_post(request, scope="global")
    if isinstance(checked, Response):
        return checked
    console, session, form = checked
    try:
        await run_in_threadpool(
            lambda: console.hub.stacks.create(
                form.get("name", "").strip(),
                description=form.get("description") or None,
                health_url=form.get("health_url") or None,
            )
        )
    except (StackExistsError, ValueError) as exc:
        message = f"Not registered: {exc}"
        return await run_in_threadpool(lambda: _admin_result(console, session, message=message))
    return RedirectResponse("/admin", status_code=303)


# -- the charting library ------------------------------------------------------------------
@router.get("/static/vendor/plotly.min.js")
def plotly_js(request: Request) -> Response:
    console = _console(request)
    gzip_ok = "gzip" in request.headers.get("accept-encoding", "").lower()
    body = console.plotly_js("gzip" if gzip_ok else "identity")
    headers = {
        "Cache-Control": _PLOTLY_CACHE,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"plotly-{quote(console.plotly_version)}"',
    }
    if gzip_ok:
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
