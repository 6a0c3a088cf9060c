"""Prometheus HTTP API under ``/prometheus`` (a Grafana "Prometheus" data source).

``/api/v1/query``, ``/query_range`` (GET, or POST form-encoded as Grafana sends),
``/labels``, ``/label/{name}/values``, ``/series``, ``/metadata``,
``/status/buildinfo``; answers and errors in Prometheus's shapes
(``{"status": "error", "errorType": "bad_data", "error": ...}``). Auth: a read key as
``Authorization: Bearer`` or ``X-API-Key``; a stack-bound key sees only its stack's
series (the sources filter every read by ``stack_name``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl

import msgspec
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from stacklens import __version__
from stacklens.api.auth import require
from stacklens.api.parts import CLOCK, STORE
from stacklens.promql.engine import PromQLEngine
from stacklens.promql.hub_series import FAMILIES, HubSeriesSource
from stacklens.promql.model import Limits, PromQLError
from stacklens.promql.otel_series import OtelSeriesSource

__all__ = ["LIMITS", "parse_duration_ms", "parse_time_ms", "router"]

router = APIRouter(prefix="/prometheus/api/v1", tags=["prometheus"])
LIMITS: Final = Limits()
_MAX_BODY: Final = 1 << 20
_ENCODER: Final = msgspec.json.Encoder()
_DURATION: Final = re.compile(r"(?:(\d+)(ms|s|m|h|d|w|y))+")
_PART: Final = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_MS: Final = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
#: times accepted: 1970 .. 2200 (beyond, epoch ns overflow the stores' int64)
_MAX_MS: Final = 7_258_118_400_000


def parse_time_ms(value: str, name: str) -> int:
    """Float epoch seconds or RFC 3339 → epoch ms; :class:`PromQLError` otherwise."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise PromQLError(
                f'invalid parameter "{name}": cannot parse {text[:40]!r} to a valid timestamp'
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        seconds = parsed.timestamp()
    if not math.isfinite(seconds) or not 0 <= seconds * 1000 < _MAX_MS:
        raise PromQLError(
            f'invalid parameter "{name}": {text[:40]!r} is outside 1970-01-01 .. 2200-01-01'
        )
    return round(seconds * 1000)


def parse_duration_ms(value: str, name: str) -> int:
    """Float seconds or a Prometheus duration (``1m30s``) → ms."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        if not _DURATION.fullmatch(text):
            raise PromQLError(
                f'invalid parameter "{name}": cannot parse {text[:40]!r} to a valid duration'
            ) from None
        total = sum(int(n) * _UNIT_MS[u] for n, u in _PART.findall(text))
        if total > _MAX_MS:
            raise PromQLError(f'invalid parameter "{name}": duration too long') from None
        return total
    if not math.isfinite(seconds) or abs(seconds) * 1000 > _MAX_MS:
        raise PromQLError(f'invalid parameter "{name}": {text[:40]!r} is out of range')
    return round(seconds * 1000)


def _error(status: int, error_type: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"status": "error", "errorType": error_type, "error": message}, status_code=status
    )


async def _params(request: Request) -> list[tuple[str, str]]:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if len(body) > _MAX_BODY:
            raise PromQLError(f"the request body is larger than {_MAX_BODY} bytes")
        if kind == "application/x-www-form-urlencoded":
            try:
                pairs += parse_qsl(body.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                raise PromQLError("the form body is not UTF-8") from None
        elif body:
            raise PromQLError("POST bodies must be application/x-www-form-urlencoded")
    return pairs


def _one(pairs: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in pairs if k == name]
    return values[-1] if values else None


async def _answer(
    request: Request, work: Callable[[PromQLEngine, list[tuple[str, str]], Any, int], Any]
) -> Response:
    try:
        principal = require("read")(request)
    except HTTPException as exc:
        error_type = "unauthorized" if exc.status_code == 401 else "forbidden"
        response = _error(exc.status_code, error_type, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    try:
        pairs = await _params(request)
        store, clock = STORE.get(request.app), CLOCK.get(request.app)
        engine = PromQLEngine(
            [HubSeriesSource(store, clock), OtelSeriesSource(store, reserved=FAMILIES)], LIMITS
        )
        now_ms = clock() // 1_000_000
        data = await run_in_threadpool(work, engine, pairs, principal.visible_stacks(), now_ms)
    except PromQLError as exc:
        return _error(exc.status, exc.error_type, str(exc))
    # msgspec, not the json module: a week at a 1-minute step is ~10,000 pairs per series
    body = await run_in_threadpool(_ENCODER.encode, {"status": "success", "data": data})
    return Response(body, media_type="application/json")


def _window(pairs: list[tuple[str, str]], now_ms: int) -> tuple[int, int]:
    start, end = _one(pairs, "start"), _one(pairs, "end")
    end_ms = now_ms if end is None else parse_time_ms(end, "end")
    start_ms = 0 if start is None else parse_time_ms(start, "start")
    return start_ms, end_ms


def _query(pairs: list[tuple[str, str]]) -> str:
    query = _one(pairs, "query")
    if query is None:
        raise PromQLError('invalid parameter "query": no query given')
    return query


def _instant(engine: PromQLEngine, pairs: list[tuple[str, str]], stacks: Any, now: int) -> Any:
    time = _one(pairs, "time")
    at = now if time is None or time == "" else parse_time_ms(time, "time")
    return engine.instant(_query(pairs), at, stacks)


def _range(engine: PromQLEngine, pairs: list[tuple[str, str]], stacks: Any, now: int) -> Any:
    names = {"start": None, "end": None, "step": None}
    for name in names:
        if _one(pairs, name) is None:
            raise PromQLError(f'invalid parameter "{name}": missing')
    start = parse_time_ms(_one(pairs, "start") or "", "start")
    end = parse_time_ms(_one(pairs, "end") or "", "end")
    step = parse_duration_ms(_one(pairs, "step") or "", "step")
    return engine.range(_query(pairs), start, end, step, stacks, encoded=True)


def _matches(pairs: list[tuple[str, str]]) -> list[str]:
    return [v for k, v in pairs if k == "match[]"]


@router.get("/query", operation_id="prometheus_query_get")
@router.post("/query", operation_id="prometheus_query_post")
async def query(request: Request) -> Response:
    """An instant query (``query``, ``time`` float seconds or RFC 3339)."""
    return await _answer(request, _instant)


@router.get("/query_range", operation_id="prometheus_query_range_get")
@router.post("/query_range", operation_id="prometheus_query_range_post")
async def query_range(request: Request) -> Response:
    """A range query (``query``, ``start``, ``end``, ``step`` seconds or duration)."""
    return await _answer(request, _range)


@router.get("/series", operation_id="prometheus_series_get")
@router.post("/series", operation_id="prometheus_series_post")
async def series(request: Request) -> Response:
    def work(engine: PromQLEngine, pairs: list[tuple[str, str]], stacks: Any, now: int) -> Any:
        match = _matches(pairs)
        if not match:
            raise PromQLError("no match[] parameter provided")
        return engine.series(match, *_window(pairs, now), stacks)

    return await _answer(request, work)


@router.get("/labels", operation_id="prometheus_labels_get")
@router.post("/labels", operation_id="prometheus_labels_post")
async def labels(request: Request) -> Response:
    def work(engine: PromQLEngine, pairs: list[tuple[str, str]], stacks: Any, now: int) -> Any:
        return engine.label_names(_matches(pairs), *_window(pairs, now), stacks)

    return await _answer(request, work)


@router.get("/label/{name}/values")
async def label_values(request: Request, name: str) -> Response:
    def work(engine: PromQLEngine, pairs: list[tuple[str, str]], stacks: Any, now: int) -> Any:
        if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name):
            raise PromQLError(f"invalid label name: {name[:80]!r}")
        return engine.label_values(name, _matches(pairs), *_window(pairs, now), stacks)

    return await _answer(request, work)


@router.get("/metadata")
async def metadata(request: Request) -> Response:
    def work(engine: PromQLEngine, pairs: list[tuple[str, str]], stacks: Any, now: int) -> Any:
        limit = _one(pairs, "limit")
        try:
            count = int(limit) if limit else None
        except ValueError:
            raise PromQLError('invalid parameter "limit": not a number') from None
        return engine.metadata(_one(pairs, "metric"), count)

    return await _answer(request, work)


@router.get("/query_exemplars", operation_id="prometheus_query_exemplars_get")
@router.post("/query_exemplars", operation_id="prometheus_query_exemplars_post")
async def query_exemplars(request: Request) -> Response:
    """No exemplars are stored: always an empty list (Grafana asks for them)."""
    return await _answer(request, lambda *_: [])


@router.get("/status/buildinfo")
async def buildinfo(request: Request) -> Response:
    """What Grafana reads to pick its Prometheus dialect: the API of Prometheus 2.42."""
    return await _answer(
        request,
        lambda *_: {
            "version": "2.42.0",
            "revision": f"stacklens-{__version__}",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        },
    )
