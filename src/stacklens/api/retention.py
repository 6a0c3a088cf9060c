"""Retention API: erasing one user's data (admin) and what each tier keeps."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from starlette.concurrency import run_in_threadpool

from stacklens.api.auth import require
from stacklens.api.authz import mutation
from stacklens.api.parts import Part
from stacklens.metadata.keys import Principal
from stacklens.retention.erasure import UserEraser
from stacklens.retention.status import RetentionView

__all__ = ["ERASER", "RETENTION", "router"]

router = APIRouter(prefix="/api/v1", tags=["retention"])

#: Erases a user's data and audits it (built by the composition root).
ERASER = Part[UserEraser]("eraser")

#: What each tier keeps (built by the composition root).
RETENTION = Part[RetentionView]("retention")

#: A user's data spans every stack (one pseudonym across the fleet), so erasure is a
#: change to every stack: an admin key bound to a stack may not (scope ``global``).
PlatformAdmin = Annotated[Principal, Depends(mutation("global"))]


@router.delete("/users/{user_id}", summary="Erase one user's data in every tier (admin)")
async def erase_user(
    principal: PlatformAdmin,
    eraser: Annotated[UserEraser, Depends(ERASER)],
    *,
    user_id: Annotated[str, Path(min_length=1, max_length=256)],
) -> dict[str, Any]:
    """Removes the user's raw events, logs and session summaries (and what was still
    in the spool); billing records keep their amounts under the user id ``~erased``.
    ``user_id`` is the pseudonym (``u_…``) or the raw id. The erasure is audited."""
    try:
        report = await run_in_threadpool(eraser.erase, user_id, key_id=principal.key_id)
    except ValueError as exc:
        raise HTTPException(400, f"user_id: {exc}") from None
    return {
        "user_id": report.user_id,
        "removed": report.removed,
        "billing_records_anonymized": report.billing_records_anonymized,
        "audit_id": report.audit_id,
    }


@router.get("/retention", summary="Per tier: period, oldest data kept, bytes, next drop")
async def retention_status(
    principal: Annotated[Principal, Depends(require("read"))],
    view: Annotated[RetentionView, Depends(RETENTION)],
) -> dict[str, Any]:
    """Tiers hold every stack's data: a key bound to a stack may not see their sizes."""
    if principal.stack is not None:
        raise HTTPException(403, "retention status needs a read key for all stacks")
    tiers = await run_in_threadpool(view.status)
    return {"tiers": [t.to_json() for t in tiers]}
