"""Alerting API: alerts, history, rules, silences, the notification log.

The alerting service comes through the :data:`ALERTING` slot (empty when alerting is
off); silences and history also work without it, through the :data:`ALERT_STORES` the
composition root builds over the metadata database. A key bound
to a stack sees only alerts whose ``stack_name`` is that stack, the silences confined to
it and the notifications of groups split by it. Creating and expiring silences needs an
admin key; a bound admin key's silences are confined to its stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from stacklens.alerting.durations import format_duration, parse_duration, rfc3339
from stacklens.alerting.routing import Matcher, parse_matcher
from stacklens.alerting.silences import SilenceStore
from stacklens.alerting.statestore import AlertStateStore
from stacklens.api.auth import require
from stacklens.api.authz import group_in_stack, labels_visible, mutation
from stacklens.api.parts import CLOCK, Part
from stacklens.api.timeparse import MAX_TIME_NS, bounded_timestamp
from stacklens.metadata.keys import Principal

if TYPE_CHECKING:
    from stacklens.alerting.alerting_service import AlertingService

__all__ = ["ALERTING", "ALERT_STORES", "AlertStores", "router"]


class AlertStores(NamedTuple):
    """Alert history and silences in the metadata database (alerting on or off)."""

    states: AlertStateStore
    silences: SilenceStore


ALERTING = Part["AlertingService"]("alerting")
ALERT_STORES = Part[AlertStores]("alert_stores")

router = APIRouter(prefix="/api/v1", tags=["alerts"])


def _engine(request: Request) -> AlertingService | None:
    return ALERTING.find(request.app)


def _require_engine(request: Request) -> AlertingService:
    engine = _engine(request)
    if engine is None:
        raise HTTPException(503, "the alert engine is not running")
    return engine


@router.get("/alerts")
async def list_alerts(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    state: Annotated[str | None, Query(pattern="^(pending|firing)$")] = None,
) -> dict[str, Any]:
    engine = _require_engine(request)
    alerts = await run_in_threadpool(engine.active_alerts)
    out = []
    for alert in alerts:
        if not labels_visible(principal, alert["labels"]) or (state and alert["state"] != state):
            continue
        item = dict(alert)
        item["activeAt"] = rfc3339(item.pop("active_at_ns"))
        fired = item.pop("fired_at_ns")
        item["firedAt"] = rfc3339(fired) if fired is not None else None
        out.append(item)
    return {"alerts": out}


@router.get("/alerts/history")
async def alert_history(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    rule: Annotated[str | None, Query(max_length=400, description="group/alert")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    engine = _engine(request)
    store = engine.states if engine is not None else ALERT_STORES.get(request.app).states
    rows = await run_in_threadpool(store.history, limit=limit, rule_key=rule)
    history = [
        {**row, "at": rfc3339(row.pop("at_ns"))}
        for row in rows
        if labels_visible(principal, row["labels"])
    ]
    return {"history": history}


@router.get("/rules")
async def list_rules(
    request: Request, principal: Annotated[Principal, Depends(require("read"))]
) -> dict[str, Any]:
    from stacklens.alerting.prometheus_export import NotExportable, promql

    engine = _require_engine(request)
    active = [a for a in engine.all_alerts() if labels_visible(principal, a.labels)]
    groups = []
    for group in engine.rules.groups:
        items = []
        for rule in group.rules:
            status = engine.status.get(rule.key)
            c = rule.condition
            item: dict[str, Any] = {
                "name": rule.name,
                "description": rule.description,
                "enabled": rule.enabled,
                "signal": c.signal,
                "params": dict(c.params),
                "window": format_duration(c.window_ns),
                "by": list(c.by),
                "where": [
                    {"dimension": f.dimension, "op": f.op, "value": f.value} for f in c.where
                ],
                "op": c.op,
                "threshold": c.threshold,
                "for": format_duration(rule.for_ns),
                "keep_firing_for": format_duration(rule.keep_firing_for_ns),
                "labels": dict(rule.labels),
                "annotations": dict(rule.annotations),
                "health": status.health if status else "unknown",
                "last_error": status.last_error if status else None,
                "last_evaluation": rfc3339(status.last_evaluation_ns)
                if status and status.last_evaluation_ns
                else None,
                "evaluation_ms": round(status.evaluation_ms, 3) if status else 0.0,
                "alerts": {
                    s: sum(1 for a in active if a.rule_key == rule.key and a.state.value == s)
                    for s in ("pending", "firing")
                },
            }
            try:
                item["promql"] = promql(rule)
            except NotExportable as exc:
                item["promql"] = None
                item["not_exportable"] = str(exc)
            items.append(item)
        groups.append(
            {"name": group.name, "interval": format_duration(group.interval_ns), "rules": items}
        )
    return {"groups": groups}


def _silences(request: Request) -> SilenceStore:
    engine = _engine(request)
    if engine is not None:
        return engine.silences
    return ALERT_STORES.get(request.app).silences


@router.get("/silences")
async def list_silences(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    include_expired: bool = False,
) -> dict[str, Any]:
    store = _silences(request)
    found = await run_in_threadpool(
        lambda: store.list(include_expired=include_expired, stack=principal.stack)
    )
    now = CLOCK.get(request.app)()
    return {"silences": [s.to_json(now) for s in found]}


def _matchers(body: dict[str, Any]) -> list[Matcher]:
    out = []
    for item in body.get("matchers") or []:
        if isinstance(item, str):
            out.append(parse_matcher(item))
            continue
        if not isinstance(item, dict) or "name" not in item or "value" not in item:
            raise ValueError("each matcher is a string or {name, value, isRegex, isEqual}")
        regex, equal = bool(item.get("isRegex", False)), bool(item.get("isEqual", True))
        op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}[
            (regex, equal)
        ]
        out.append(Matcher(str(item["name"]), op, str(item["value"])))
    return out


def _time_ns(text: Any, what: str) -> int:
    return bounded_timestamp(text, name=what)


_MAX_MATCHERS = 50
_MAX_TEXT = {"comment": 2000, "createdBy": 200}


def _bound_fields(body: dict[str, Any]) -> None:
    """Every field of a silence is bounded; the error names the field."""
    if len(body.get("matchers") or []) > _MAX_MATCHERS:
        raise ValueError(f"matchers: at most {_MAX_MATCHERS}")
    for field, limit in _MAX_TEXT.items():
        if len(str(body.get(field) or "")) > limit:
            raise ValueError(f"{field}: at most {limit} characters")


@router.post("/silences", status_code=201)
async def create_silence(
    request: Request,
    principal: Annotated[Principal, Depends(mutation("confined"))],
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Alertmanager's PostableSilence (``matchers``, ``startsAt``, ``endsAt``,
    ``createdBy``, ``comment``); ``duration`` (e.g. ``2h``) may replace ``endsAt`` and a
    matcher may be a string like ``severity="critical"``."""
    store = _silences(request)
    clock = CLOCK.get(request.app)
    try:
        matchers = _matchers(body)
        starts = _time_ns(body["startsAt"], "startsAt") if body.get("startsAt") else None
        ends = _time_ns(body["endsAt"], "endsAt") if body.get("endsAt") else None
        duration = parse_duration(str(body["duration"])) if body.get("duration") else None
        if duration is not None and duration + (starts or clock()) >= MAX_TIME_NS:
            raise ValueError("duration: the silence would end after 2200-01-01")
        _bound_fields(body)
        created = await run_in_threadpool(
            lambda: store.add(
                matchers,
                duration_ns=duration,
                ends_at_ns=ends,
                starts_at_ns=starts,
                created_by=str(body.get("createdBy") or principal.key_id),
                comment=str(body.get("comment") or ""),
                stack=principal.stack,
            )
        )
    except PermissionError as exc:
        raise HTTPException(403, str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise HTTPException(400, str(exc)) from None
    return {"silenceID": created.id}


@router.delete("/silences/{silence_id}")
async def expire_silence(
    request: Request,
    silence_id: Annotated[str, Path(max_length=64)],
    principal: Annotated[Principal, Depends(mutation("confined"))],
) -> dict[str, Any]:
    store = _silences(request)
    if not await run_in_threadpool(lambda: store.expire(silence_id, stack=principal.stack)):
        raise HTTPException(404, f"no unexpired silence {silence_id!r}")
    return {"expired": silence_id}


@router.get("/notifications")
async def list_notifications(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    receiver: Annotated[str | None, Query(max_length=200)] = None,
    outcome: Annotated[str | None, Query(pattern="^(success|retry|failure)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    engine = _require_engine(request)
    rows = await run_in_threadpool(
        engine.notify_log.list, limit=limit, receiver=receiver, outcome=outcome
    )
    return {
        "notifications": [
            {**row, "at": rfc3339(row["at_ns"])}
            for row in rows
            if group_in_stack(principal, row["group_key"])
        ]
    }
