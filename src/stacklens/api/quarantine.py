"""``/api/v1/quarantine``: rows the store refused, listed and retried (admin keys not
bound to a stack only: an entry holds events of any stack)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, NamedTuple, Protocol

import msgspec
from fastapi import APIRouter, Depends, HTTPException
from starlette.concurrency import run_in_threadpool

from stacklens.api.auth import require
from stacklens.api.authz import mutation
from stacklens.api.parts import Part
from stacklens.ingest.loader import RetryOutcome
from stacklens.ingest.quarantine import ENTRY_ID_RE, Quarantine
from stacklens.metadata.keys import Principal

__all__ = ["QUARANTINES", "QuarantineDesk", "describe", "router"]


class _Retrier(Protocol):
    def retry_quarantined(self, entry_id: str) -> RetryOutcome: ...


class QuarantineDesk(NamedTuple):
    """Per stream: its quarantine, and the loader that retries an entry."""

    quarantines: Mapping[str, Quarantine]
    loaders: Mapping[str, _Retrier]


QUARANTINES = Part[QuarantineDesk]("quarantines")

router = APIRouter(prefix="/api/v1/quarantine", tags=["quarantine"])

_PREVIEW = 4096


def describe(quarantines: Mapping[str, Quarantine]) -> dict[str, Any]:
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
    principal: Annotated[Principal, Depends(require("admin"))],
    desk: Annotated[QuarantineDesk, Depends(QUARANTINES)],
) -> dict[str, Any]:
    if principal.stack is not None:
        raise HTTPException(403, "the quarantine holds every stack's rows: it needs an unbound key")
    return await run_in_threadpool(describe, desk.quarantines)


@router.post("/{stream}/{entry_id}/retry")
async def retry_quarantined(
    stream: str,
    entry_id: str,
    _: Annotated[Principal, Depends(mutation("global"))],
    desk: Annotated[QuarantineDesk, Depends(QUARANTINES)],
) -> dict[str, Any]:
    """Load the entry again; it leaves the quarantine once stored."""
    loader = desk.loaders.get(stream)
    if loader is None or not ENTRY_ID_RE.fullmatch(entry_id):
        raise HTTPException(404, f"no quarantine entry {stream}/{entry_id[:40]}")
    try:
        outcome = await run_in_threadpool(loader.retry_quarantined, entry_id)
    except KeyError:
        raise HTTPException(404, f"no quarantine entry {stream}/{entry_id}") from None
    except Exception as exc:  # the store or disk failed: the entry stays, retry later
        raise HTTPException(503, f"retry failed: {type(exc).__name__}: {exc}") from None
    return {"id": entry_id, "stream": stream, **outcome._asdict()}
