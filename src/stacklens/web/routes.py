"""The console's HTTP routes: pages (GET), sign-in/out (POST, CSRF-checked) and the
CSV export; the admin forms and ``plotly.min.js`` are in :mod:`stacklens.web.forms`.

Every page needs a console session (else a redirect to ``/login``); the session's
principal is what the JSON API would see for the key, so a stack-bound key sees only
its stack here too, and a read key gets 403 on admin pages and forms.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import threading
from collections.abc import Callable, Iterable
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

import msgspec
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from stacklens.alerting.silences import SilenceStore
from stacklens.analytics.export import billing_csv, billing_records
from stacklens.api.events import visible_stacks
from stacklens.api.timeparse import parse_month_param
from stacklens.metadata.keys import Principal, Role
from stacklens.web import pages
from stacklens.web.console_hub import ConsoleHub
from stacklens.web.csrf import FIELD, LOGIN_COOKIE, CsrfError, CsrfGuard, set_login_cookie
from stacklens.web.filters import RANGES, REFRESH_CHOICES, PageParams, parse_params
from stacklens.web.session import ConsoleSession, SessionStore
from stacklens.web.templating import (
    asset_version,
    make_environment,
    plotly_js_path,
    render,
)
from stacklens.web.throttle import LoginThrottle

__all__ = ["Console", "router"]

router = APIRouter(include_in_schema=False)

_MAX_FORM_BYTES: Final = 64 * 1024
_KEEP: Final = ("range", "since", "until", "stack", "refresh")


class Console:
    """The console's state (``app.state.console``)."""

    def __init__(
        self, hub: ConsoleHub, *, secret_key: bytes, session_ttl_s: int = 12 * 3600
    ) -> None:
        self.hub = hub
        self.sessions = SessionStore(hub.metadata.engine, clock=hub.clock, ttl_s=session_ttl_s)
        self.csrf = CsrfGuard(secret_key)
        self.env = make_environment()
        self.budgets = hub.budgets
        self.login_throttle = LoginThrottle(hub.clock)
        self.asset_version = asset_version()
        self._plotly: dict[str, bytes] = {}
        self._plotly_lock = threading.Lock()
        self.plotly_version = importlib.metadata.version("plotly")

    def plotly_js(self, encoding: str) -> bytes:
        """``plotly.min.js`` (read once; gzipped once for browsers that accept it)."""
        with self._plotly_lock:
            if "identity" not in self._plotly:
                raw = plotly_js_path().read_bytes()
                self._plotly["identity"] = raw
                self._plotly["gzip"] = gzip.compress(raw, compresslevel=6, mtime=0)
            return self._plotly[encoding]

    def silences(self) -> SilenceStore:
        engine = self.hub.alerts
        if engine is not None:
            return engine.silences
        return self.hub.alert_stores.silences


def _console(request: Request) -> Console:
    console = request.app.state.console
    assert isinstance(console, Console)
    return console


def _is_platform_admin(principal: Principal) -> bool:
    return principal.role == Role.ADMIN and principal.stack is None


def _keep(p: PageParams | None) -> str:
    if p is None:
        return ""
    defaults = PageParams()
    return urlencode(
        {
            k: getattr(p, k)
            for k in _KEEP
            if getattr(p, k) not in (None, "") and getattr(p, k) != getattr(defaults, k)
        }
    )


def _context(
    console: Console,
    session: ConsoleSession | None,
    p: PageParams | None,
    **extra: Any,
) -> dict[str, Any]:
    principal = session.principal if session else None
    names: list[str] = []
    if principal is not None:
        names = (
            [principal.stack] if principal.stack else [s.name for s in console.hub.stacks.list()]
        )
    context: dict[str, Any] = {
        "principal": principal,
        "is_platform_admin": principal is not None and _is_platform_admin(principal),
        "csrf": console.csrf.session_token(session.session_id) if session else "",
        "p": p,
        "keep": _keep(p),
        "stack_names": names,
        "ranges": tuple(RANGES),
        "refresh_choices": REFRESH_CHOICES,
        "asset_version": console.asset_version,
        "plotly_version": console.plotly_version,
        "filters": (),
        "filter_options": {},
        "charts": None,
        "window": None,
        "nav": "",
        "title": "stacklens",
    }
    context.update(extra)
    return context


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


def _error(console: Console, session: ConsoleSession | None, status: int, detail: Any) -> Response:
    context = _context(console, session, None, status=status, detail=str(detail), title=f"{status}")
    return render(console.env, "error.html", context, status)


def _page(
    request: Request,
    template: str,
    build: Callable[[Principal, PageParams], dict[str, Any]],
    *,
    nav: str,
    title: str,
    filters: Iterable[str] = (),
    platform_admin: bool = False,
    params: PageParams | None = None,
) -> Response:
    console = _console(request)
    session = console.sessions.from_request(request)
    if session is None:
        return _to_login(request)
    if platform_admin and not _is_platform_admin(session.principal):
        return _error(console, session, 403, "Admin pages need an admin key not bound to a stack.")
    try:
        p = params or parse_params(request.query_params)
        data = build(session.principal, p)
    except HTTPException as exc:
        return _error(console, session, exc.status_code, exc.detail)
    context = _context(console, session, p, nav=nav, title=title, filters=tuple(filters))
    context.update(data)
    return render(console.env, template, context)


# -- pages -----------------------------------------------------------------------------
@router.get("/")
def overview(request: Request) -> Response:
    hub = _console(request).hub

    def build(principal: Principal, p: PageParams) -> dict[str, Any]:
        data = pages.overview_page(hub, principal, p)
        ov = data["overview"]
        data["filter_options"] = {
            "model_options": [r["model"] for r in ov["tokens_by_model"] if r["model"]],
            "agent_options": [r["agent"] for r in ov["top_agents"]],
        }
        return data

    return _page(
        request,
        "overview.html",
        build,
        nav="overview",
        title="Overview",
        filters=("stack", "model", "agent"),
    )


@router.get("/stacks")
def stacks_index(request: Request) -> Response:
    hub = _console(request).hub
    sort = request.query_params.get("sort")
    return _page(
        request,
        "stacks.html",
        lambda principal, p: pages.stacks_page(hub, principal, p, sort),
        nav="stack",
        title="Stacks",
        filters=("sort",),
    )


@router.get("/stacks/{stack}")
def stack_dashboard(request: Request, stack: str) -> Response:
    hub = _console(request).hub
    p = msgspec.structs.replace(parse_params(request.query_params), stack=stack)

    def build(principal: Principal, params: PageParams) -> dict[str, Any]:
        data = pages.stack_page(hub, principal, params)
        data["stack"] = stack
        data["filter_options"] = {
            "model_options": [
                r["model"] for r in data["dashboard"]["tokens_by_model"] if r["model"]
            ],
        }
        return data

    return _page(
        request,
        "stack.html",
        build,
        nav="stack",
        title=f"Stack {stack}",
        filters=("model", "agent"),
        params=p,
    )


@router.get("/sessions")
def sessions(request: Request) -> Response:
    hub = _console(request).hub
    return _page(
        request,
        "sessions.html",
        lambda principal, p: pages.sessions_page(hub, principal, p),
        nav="sessions",
        title="Sessions",
        filters=("stack", "model", "agent", "user"),
    )


@router.get("/sessions/{session_id}")
def session_detail(request: Request, session_id: str) -> Response:
    hub = _console(request).hub

    def build(principal: Principal, p: PageParams) -> dict[str, Any]:
        data = pages.session_page(hub, principal, session_id, p.stack)
        if not data["stacks"]:
            raise HTTPException(404, "No such session (or it belongs to another stack).")
        return data

    return _page(request, "session.html", build, nav="sessions", title=f"Session {session_id}")


@router.get("/logs")
def logs(request: Request) -> Response:
    hub = _console(request).hub
    return _page(
        request,
        "logs.html",
        lambda principal, p: pages.logs_page(hub, principal, p),
        nav="logs",
        title="Logs",
        filters=("stack", "type", "level", "service", "q"),
    )


@router.get("/traces/{trace_id}")
def trace(request: Request, trace_id: str) -> Response:
    hub = _console(request).hub
    return _page(
        request,
        "trace.html",
        lambda principal, p: pages.trace_page(hub, principal, trace_id),
        nav="logs",
        title=f"Trace {trace_id}",
    )


@router.get("/costs")
def costs(request: Request) -> Response:
    console = _console(request)
    return _page(
        request,
        "costs.html",
        lambda principal, p: pages.costs_page(console.hub, principal, p, console.budgets),
        nav="costs",
        title="Costs",
        filters=("stack", "model", "agent", "user", "by"),
    )


@router.get("/costs/export")
def costs_export(request: Request, month: str, stack: str | None = None) -> Response:
    console = _console(request)
    session = console.sessions.from_request(request)
    if session is None:
        return _to_login(request)
    try:
        parse_month_param(month)  # bounded: 9999-12 would overflow the query
        stacks = visible_stacks(session.principal, stack or None)
    except ValueError as exc:
        return _error(console, session, 400, exc)
    except HTTPException as exc:
        return _error(console, session, exc.status_code, exc.detail)
    body = billing_csv(billing_records(console.hub.analytics, month, stacks))
    return Response(
        body,
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="stacklens-billing-{month}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/alerts")
def alerts(request: Request) -> Response:
    hub = _console(request).hub

    def build(principal: Principal, p: PageParams) -> dict[str, Any]:
        data = pages.alerts_page(hub, principal)
        data["can_silence"] = principal.role == Role.ADMIN
        return data

    return _page(request, "alerts.html", build, nav="alerts", title="Alerts")


@router.get("/admin")
def admin(request: Request) -> Response:
    hub = _console(request).hub
    return _page(
        request,
        "admin.html",
        lambda principal, p: pages.admin_page(hub),
        nav="admin",
        title="Admin",
        platform_admin=True,
    )


# -- sign-in -----------------------------------------------------------------------------
def _safe_next(value: str | None) -> str:
    """Only a local path: never another site (open redirect) nor the sign-in page."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if value.startswith("/login") or any(ch in value for ch in "\r\n"):
        return "/"
    return value


def _login_page(
    request: Request,
    console: Console,
    *,
    error: str | None = None,
    status: int = 200,
    next_url: str = "/",
) -> Response:
    nonce, new = console.csrf.login_nonce(request)
    context = _context(
        console,
        None,
        None,
        title="Sign in",
        error=error,
        next_url=next_url,
        login_csrf=console.csrf.login_token(nonce),
    )
    response = render(console.env, "login.html", context, status)
    if new:
        set_login_cookie(response, request, nonce)
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    console = _console(request)
    if console.sessions.from_request(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, console, next_url=_safe_next(next))


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise HTTPException(415, "expected a form post")
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=50)
    return {name: values[0] for name, values in parsed.items()}


def _throttled(request: Request, console: Console, wait: int, next_url: str) -> Response:
    error = f"Too many failed sign-ins from your address: try again in {wait} s."
    response = _login_page(request, console, error=error, status=429, next_url=next_url)
    response.headers["Retry-After"] = str(wait)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    console = _console(request)
    form = await _form(request)
    next_url = _safe_next(form.get("next"))
    address = request.client.host if request.client else "unknown"
    wait = console.login_throttle.retry_after(address)
    if wait:
        return _throttled(request, console, wait, next_url)
    try:
        console.csrf.check_login(request, form.get(FIELD))
    except CsrfError as exc:
        return _login_page(request, console, error=str(exc), status=403, next_url=next_url)
    key = form.get("key", "").strip()
    principal = (
        await run_in_threadpool(console.hub.keyring.authenticate, key)
        if 0 < len(key) <= 512
        else None
    )
    if principal is None:
        console.login_throttle.failed(address)
        return _login_page(
            request, console, error="Unknown or revoked key.", status=401, next_url=next_url
        )
    console.login_throttle.succeeded(address)
    if not principal.can_read():
        return _login_page(
            request,
            console,
            status=403,
            next_url=next_url,
            error="This key cannot read: sign in with a read or admin key.",
        )
    session = await run_in_threadpool(console.sessions.create, principal)
    response = RedirectResponse(next_url, status_code=303)
    console.sessions.set_cookie(response, request, session)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    console = _console(request)
    form = await _form(request)
    session = await run_in_threadpool(console.sessions.from_request, request)
    if session is not None:
        try:
            console.csrf.check_session(request, session.session_id, form.get(FIELD))
        except CsrfError as exc:
            return _error(console, session, 403, exc)
        await run_in_threadpool(console.sessions.delete, session.session_id)
    response = RedirectResponse("/login", status_code=303)
    console.sessions.clear_cookie(response, request)
    return response
