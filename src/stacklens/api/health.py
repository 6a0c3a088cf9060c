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
    spools = {"events": hub.spool, "metrics": hub.metrics_spool}
    backlogs = {name: spool.backlog_bytes() for name, spool in spools.items()}
    checks["spool"] = {
        "ok": all(
            spool.is_running and backlogs[name] <= spool.max_backlog_bytes
            for name, spool in spools.items()
        ),
        "backlog_bytes": backlogs,
        "max_backlog_bytes": hub.spool.max_backlog_bytes,
        "writer_running": {name: spool.is_running for name, spool in spools.items()},
    }
    loaders = {"events": hub.loader, "metrics": hub.metrics_loader}
    lags = {name: loader.lag_s() for name, loader in loaders.items()}
    checks["loader"] = {
        "ok": all(
            loader.is_running
            and loader.last_error is None
            and lags[name] <= hub.config.max_loader_lag_s
            for name, loader in loaders.items()
        ),
        "lag_seconds": {name: round(lag, 3) for name, lag in lags.items()},
        "running": {name: loader.is_running for name, loader in loaders.items()},
        "last_error": {name: loader.last_error for name, loader in loaders.items()},
    }
    # Quarantined rows do not make the loader unhealthy: loading goes on around them,
    # and any ingest key could otherwise turn /health red by sending one.
    checks["loader"]["quarantine"] = {
        "rows": {name: q.count_rows() for name, q in hub.quarantines.items()},
        "quarantined_since_start": {
            name: loader.rows_quarantined for name, loader in loaders.items()
        },
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
