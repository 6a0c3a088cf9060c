"""``/health`` (every part checked; 503 naming the failing ones) and ``/ready``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from stacklens.api.parts import Part

__all__ = ["HEALTH", "HealthSources", "check_health", "router"]

router = APIRouter(tags=["health"])


class _Spool(Protocol):
    @property
    def is_running(self) -> bool: ...
    @property
    def max_backlog_bytes(self) -> int: ...
    def backlog_bytes(self) -> int: ...


class _Loader(Protocol):
    @property
    def is_running(self) -> bool: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def rows_quarantined(self) -> int: ...
    def lag_s(self) -> float: ...


class _Quarantine(Protocol):
    def count_rows(self) -> int: ...


class _Pingable(Protocol):
    def ping(self) -> None: ...


class _LagBound(Protocol):
    @property
    def max_loader_lag_s(self) -> float: ...


class HealthSources(Protocol):
    """What ``/health`` and ``/ready`` look at (the hub's parts, read only)."""

    @property
    def started(self) -> bool: ...
    @property
    def spool(self) -> _Spool: ...
    @property
    def metrics_spool(self) -> _Spool: ...
    @property
    def loader(self) -> _Loader: ...
    @property
    def metrics_loader(self) -> _Loader: ...
    @property
    def quarantines(self) -> Mapping[str, _Quarantine]: ...
    @property
    def store(self) -> _Pingable: ...
    @property
    def metadata(self) -> _Pingable: ...
    @property
    def config(self) -> _LagBound: ...
    @property
    def alerting_role(self) -> Mapping[str, str] | None: ...


HEALTH = Part[HealthSources]("health")


def check_health(hub: HealthSources) -> dict[str, dict[str, Any]]:
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
    role = hub.alerting_role
    if role is not None:
        # A standby is healthy: it serves the API and takes over when the leader dies.
        checks["alerting"] = {"ok": True, **role}
    for name, ping in (("store", hub.store.ping), ("metadata", hub.metadata.ping)):
        try:
            ping()
            checks[name] = {"ok": True}
        except Exception as exc:  # report any failure of the part, never raise
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return checks


@router.get("/health")
async def health(hub: Annotated[HealthSources, Depends(HEALTH)]) -> JSONResponse:
    checks = await run_in_threadpool(check_health, hub)
    failing = sorted(name for name, check in checks.items() if not check["ok"])
    body = {"status": "unhealthy" if failing else "ok", "failing": failing, "checks": checks}
    return JSONResponse(body, status_code=503 if failing else 200)


@router.get("/ready")
async def ready(hub: Annotated[HealthSources, Depends(HEALTH)]) -> JSONResponse:
    if hub.started and hub.spool.is_running and hub.loader.is_running:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "starting"}, status_code=503)
