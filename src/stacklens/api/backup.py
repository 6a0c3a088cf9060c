"""``POST /api/v1/backup``: a consistent backup of the running hub (admin keys for all
stacks only: a backup holds every tenant's data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from stacklens.api.authz import mutation
from stacklens.metadata.keys import Principal
from stacklens.operations.backup import BackupSource, take_backup

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.post("/api/v1/backup")
async def backup(
    request: Request, principal: Annotated[Principal, Depends(mutation("global"))]
) -> dict[str, Any]:
    """Load what is acknowledged, then copy the store, the metadata and the hashing key
    into ``<data dir>/backups/<UTC time>/``. Answers with the directory and its manifest."""
    del principal  # "global": a backup holds every stack, so a bound key is refused
    hub: Hub = request.app.state.hub

    def flush() -> None:
        hub.loader.run_once()
        hub.metrics_loader.run_once()

    source = BackupSource(hub.config.data_dir, hub.store, hub.metadata, flush)
    try:
        path = await run_in_threadpool(take_backup, source)
    except ValueError as exc:  # e.g. a PostgreSQL metadata database
        raise HTTPException(409, str(exc)) from None
    manifest = msgspec.json.decode((path / "manifest.json").read_bytes())
    return {"path": str(path.resolve()), "manifest": manifest}
