"""``/api/v1/quarantine``: rows the store refused, listed and retried (admin keys not
bound to a stack only: an entry holds events of any stack)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from stacklens.api.auth import require
from stacklens.api.authz import mutation
from stacklens.ingest.quarantine import ENTRY_ID_RE, Quarantine
from stacklens.metadata.keys import Principal

if TYPE_CHECKING:
    from stacklens.server import Hub

__all__ = ["describe", "router"]

router = APIRouter(prefix="/api/v1/quarantine", tags=["quarantine"])

_PREVIEW = 4096


def describe(quarantines: dict[str, Quarantine]) -> dict[str, Any]:
    """Every entry with its rows (each cut at 4 KB), per stream."""
    entries: list[dict[str, Any]] = []
    for quarantine in quarantines.values():
        for entry in quarantine.entries():
            item = msgspec.to_builtins(entry)
            try:
                item["data"] = [
                    row[:_PREVIEW].decode("utf-8", "replace") for row in quarantine.rows(entry.id)
                ]
            except FileNotFoundError:
                item["data"] = []
            entries.append(item)
    rows = {name: sum(e["rows"] for e in entries if e["stream"] == name) for name in quarantines}
    return {"rows": rows, "entries": entries}


@router.get("")
async def list_quarantine(
    request: Request, principal: Annotated[Principal, Depends(require("admin"))]
) -> dict[str, Any]:
    if principal.stack is not None:
        raise HTTPException(403, "the quarantine holds every stack's rows: it needs an unbound key")
    hub: Hub = request.app.state.hub
    return await run_in_threadpool(describe, hub.quarantines)


@router.post("/{stream}/{entry_id}/retry")
async def retry_quarantined(
    request: Request,
    stream: str,
    entry_id: str,
    _: Annotated[Principal, Depends(mutation("global"))],
) -> dict[str, Any]:
    """Load the entry again; it leaves the quarantine once stored."""
    hub: Hub = request.app.state.hub
    loaders = {"events": hub.loader, "metrics": hub.metrics_loader}
    loader = loaders.get(stream)
    if loader is None or not ENTRY_ID_RE.fullmatch(entry_id):
        raise HTTPException(404, f"no quarantine entry {stream}/{entry_id[:40]}")
    try:
        outcome = await run_in_threadpool(loader.retry_quarantined, entry_id)
    except KeyError:
        raise HTTPException(404, f"no quarantine entry {stream}/{entry_id}") from None
    except Exception as exc:  # the store or disk failed: the entry stays, retry later
        raise HTTPException(503, f"retry failed: {type(exc).__name__}: {exc}") from None
    return {"id": entry_id, "stream": stream, **outcome._asdict()}
