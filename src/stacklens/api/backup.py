"""``POST /api/v1/backup``: a consistent backup of the running hub (admin keys for all
stacks only: a backup holds every tenant's data)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, HTTPException
from starlette.concurrency import run_in_threadpool

from stacklens.api.authz import mutation
from stacklens.api.parts import Part
from stacklens.metadata.keys import Principal
from stacklens.operations.backup import BackupSource, take_backup

__all__ = ["BACKUP", "router"]

#: What a backup reads (data dir, store, metadata, and how to load what is acknowledged).
BACKUP = Part[BackupSource]("backup")

router = APIRouter(tags=["operations"])


@router.post("/api/v1/backup")
async def backup(
    principal: Annotated[Principal, Depends(mutation("global"))],
    source: Annotated[BackupSource, Depends(BACKUP)],
) -> dict[str, Any]:
    """Load what is acknowledged, then copy the store, the metadata and the hashing key
    into ``<data dir>/backups/<UTC time>/``. Answers with the directory and its manifest."""
    del principal  # "global": a backup holds every stack, so a bound key is refused
    try:
        path = await run_in_threadpool(take_backup, source)
    except ValueError as exc:  # e.g. a PostgreSQL metadata database
        raise HTTPException(409, str(exc)) from None
    manifest = msgspec.json.decode((path / "manifest.json").read_bytes())
    return {"path": str(path.resolve()), "manifest": manifest}
