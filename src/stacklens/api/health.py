"""``/health`` (every part checked; 503 naming the failing ones) and ``/ready``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = ["check_health", "router"]

router = APIRouter(tags=["health"])


def check_health(hub: Hub) -> dict[str, dict[str, Any]]:
    """One entry per part: ``{"ok": bool, ...details}``. Pure reads, no side effects."""
    checks: dict[str, dict[str, Any]] = {}
    backlog = hub.spool.backlog_bytes()
    checks["spool"] = {
        "ok": hub.spool.is_running and backlog <= hub.spool.max_backlog_bytes,
        "backlog_bytes": backlog,
        "max_backlog_bytes": hub.spool.max_backlog_bytes,
        "writer_running": hub.spool.is_running,
    }
    lag = hub.loader.lag_s()
    checks["loader"] = {
        "ok": hub.loader.is_running
        and hub.loader.last_error is None
        and lag <= hub.config.max_loader_lag_s,
        "lag_seconds": round(lag, 3),
        "running": hub.loader.is_running,
        "last_error": hub.loader.last_error,
    }
    for name, ping in (("store", hub.store.ping), ("metadata", hub.metadata.ping)):
        try:
            ping()
            checks[name] = {"ok": True}
        except Exception as exc:  # report any failure of the part, never raise
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return checks


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    checks = await run_in_threadpool(check_health, request.app.state.hub)
    failing = sorted(name for name, check in checks.items() if not check["ok"])
    body = {"status": "unhealthy" if failing else "ok", "failing": failing, "checks": checks}
    return JSONResponse(body, status_code=503 if failing else 200)


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    hub: Hub = request.app.state.hub
    if hub.started and hub.spool.is_running and hub.loader.is_running:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "starting"}, status_code=503)
