"""Loki's query API over the hub's events: Grafana's stock Loki data source, pointed
at the hub's base URL (``http://hub:4320``: Grafana appends ``/loki/api/v1/...``).

``GET /loki/api/v1/query_range``, ``/query``, ``/labels``, ``/label/{name}/values``,
``/series`` and ``/index/stats``, answering in Loki's shapes
(``{"status": "success", "data": {"resultType": "streams" | "matrix" | "vector", ...}}``);
a bad query or parameter, or one past a bound, is a 400 with Loki's plain-text error
(what Grafana shows). A key bound to a stack sees only that stack's streams: its stack
is a condition of every statement, whatever the selector says.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Annotated, Any, Final

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from stacklens.api.auth import require
from stacklens.api.events import visible_stacks
from stacklens.api.parts import CLOCK, STORE, Part
from stacklens.ids import Clock
from stacklens.logql.engine import Bounds, LimitError, Scan, Series, evaluate_metric, steps
from stacklens.logql.engine import select_streams as run_log_query
from stacklens.logql.lines import METADATA_LABELS, PUSH_LABELS, STREAM_COLUMNS
from stacklens.logql.params import (
    check_range,
    parse_direction,
    parse_limit,
    parse_step,
    parse_time,
)
from stacklens.logql.parser import parse_query
from stacklens.logql.sql import Window, label_names_sql, label_values_sql, series_sql, stats_sql
from stacklens.logql.syntax import LabelMatcher, LogQLError, LogQuery
from stacklens.metadata.keys import Principal
from stacklens.store.base import Reader, Store

__all__ = ["LOKI_BOUNDS", "router"]

router = APIRouter(prefix="/loki/api/v1", tags=["loki"])
#: Per-query bounds (Loki's defaults unless the composition root provides others).
LOKI_BOUNDS = Part[Bounds]("loki_bounds")
_LOOKBACK_NS: Final = 3600 * 10**9  # query_range's default window: the last hour
_LABELS_LOOKBACK_NS: Final = 6 * 3600 * 10**9  # /labels, /series: Loki's 6 h
_MAX_PARAM_CHARS: Final = 8192
_ENCODER: Final = msgspec.json.Encoder()
_JSON: Final = "application/json"


def _bounds(request: Request) -> Bounds:
    return LOKI_BOUNDS.find(request.app) or Bounds()


async def _params(request: Request) -> dict[str, list[str]]:
    """The query string, every value kept (``match[]`` repeats). GET only, as Grafana
    sends: a POST would be a state-changing method to the route audit."""
    values: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        values.setdefault(key, []).append(value)
    for key, items in values.items():
        if len(items) > 64 or any(len(item) > _MAX_PARAM_CHARS for item in items):
            raise LogQLError(f"parameter {key[:40]!r} is too long or repeated too often")
    return values


def _one(params: dict[str, list[str]], name: str) -> str | None:
    items = params.get(name)
    return items[-1] if items else None


def _error(exc: LogQLError) -> Response:
    return PlainTextResponse(str(exc) + "\n", status_code=400)


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    return f"{value:.20f}".rstrip("0") if "e" in text else text


def _seconds(ns: int) -> float | int:
    return ns // 10**9 if ns % 10**9 == 0 else ns / 1e9


def _stats(scan: Scan, started: float) -> dict[str, Any]:
    elapsed = max(time.perf_counter() - started, 1e-9)
    return {
        "summary": {
            "bytesProcessedPerSecond": int(scan.bytes / elapsed),
            "linesProcessedPerSecond": int(scan.lines / elapsed),
            "totalBytesProcessed": scan.bytes,
            "totalLinesProcessed": scan.lines,
            "totalEntriesReturned": scan.returned,
            "execTime": elapsed,
            "queueTime": 0,
            "subqueries": 0,
        }
    }


def _success(data: Any) -> Response:
    # msgspec, not the json module: a day at a 1-minute step is 1,440 pairs per series
    return Response(_ENCODER.encode({"status": "success", "data": data}), media_type=_JSON)


def _check_series(result: Series, bounds: Bounds) -> None:
    if len(result) > bounds.max_series:
        raise LimitError(
            f"maximum number of series ({bounds.max_series}) reached for a single query "
            "(max_query_series): aggregate with sum by (...) or narrow the selector"
        )


def _run_query(
    reader: Reader,
    params: dict[str, list[str]],
    stacks: tuple[str, ...] | None,
    now_ns: int,
    bounds: Bounds,
    *,
    instant: bool,
) -> dict[str, Any]:
    text = _one(params, "query")
    if text is None:
        raise LogQLError("query parameter is required")
    expr = parse_query(text)
    limit = parse_limit(_one(params, "limit"), bounds)
    direction = parse_direction(_one(params, "direction"))
    started, scan = time.perf_counter(), Scan()
    if instant:
        at = parse_time(_one(params, "time"), now_ns, "time")
        start_ns = end_ns = at
        step_ns = 10**9
    else:
        end_ns = parse_time(_one(params, "end"), now_ns, "end")
        start_ns = parse_time(_one(params, "start"), max(end_ns - _LOOKBACK_NS, 0), "start")
        step_ns = parse_step(_one(params, "step"), start_ns, end_ns)
        check_range(start_ns, end_ns, bounds, None if isinstance(expr, LogQuery) else step_ns)
    if isinstance(expr, LogQuery):
        if instant:
            raise LogQLError(
                "log queries are not supported as an instant query type, please change "
                "your query to a range query type"
            )
        streams = run_log_query(
            reader,
            expr,
            stacks=stacks,
            start_ns=start_ns,
            end_ns=end_ns,
            limit=limit,
            direction=direction,
            bounds=bounds,
            scan=scan,
        )
        return {"resultType": "streams", "result": streams, "stats": _stats(scan, started)}
    times = [end_ns] if instant else steps(start_ns, end_ns, step_ns)
    result = evaluate_metric(reader, expr, times=times, stacks=stacks, bounds=bounds, scan=scan)
    if isinstance(result, float):
        if instant:
            value = [_seconds(end_ns), _number(result)]
            return {"resultType": "scalar", "result": value, "stats": _stats(scan, started)}
        result = {(): dict.fromkeys(times, result)}
    _check_series(result, bounds)
    ordered = sorted(result.items())
    if instant:
        vector = [
            {"metric": dict(key), "value": [_seconds(end_ns), _number(points[end_ns])]}
            for key, points in ordered
            if end_ns in points
        ]
        return {"resultType": "vector", "result": vector, "stats": _stats(scan, started)}
    # Each series' pairs as JSON text: 10^4-10^5 small lists make the garbage collector
    # walk the heap. Numbers are digits, ".", "-", NaN or Inf; counts repeat (a memo).
    texts: dict[float, str] = {}
    matrix = []
    for key, points in ordered:
        pairs = ",".join(
            f'[{_seconds(t)},"{texts.get(v) or texts.setdefault(v, _number(v))}"]'
            for t, v in sorted(points.items())
        )
        matrix.append({"metric": dict(key), "values": msgspec.Raw(f"[{pairs}]".encode())})
    return {"resultType": "matrix", "result": matrix, "stats": _stats(scan, started)}


def _selector(params: dict[str, list[str]], name: str) -> tuple[LabelMatcher, ...]:
    text = _one(params, name)
    if not text:
        return ()
    expr = parse_query(text)
    if not isinstance(expr, LogQuery):
        raise LogQLError(f'{name} must be a stream selector like {{app="x"}}')
    return expr.matchers


def _window(
    reader: Reader,
    params: dict[str, list[str]],
    stacks: tuple[str, ...] | None,
    now_ns: int,
    bounds: Bounds,
    matchers: tuple[LabelMatcher, ...] = (),
) -> Window:
    end_ns = parse_time(_one(params, "end"), now_ns, "end")
    start_ns = parse_time(_one(params, "start"), max(end_ns - _LABELS_LOOKBACK_NS, 0), "start")
    check_range(start_ns, end_ns, bounds)
    return Window(
        reader.dialect, since_ns=start_ns, until_ns=end_ns, stacks=stacks, matchers=matchers
    )


_Handler = Callable[[Reader, dict[str, list[str]], tuple[str, ...] | None, int, Bounds], Any]


async def _answer(
    request: Request, principal: Principal, store: Store, clock: Clock, handler: _Handler
) -> Response:
    try:
        params = await _params(request)
        stacks = visible_stacks(principal, None)
        data = await run_in_threadpool(handler, store, params, stacks, clock(), _bounds(request))
    except LogQLError as exc:
        return _error(exc)
    return _success(data)


def _doc(*names: str) -> dict[str, Any]:
    """The query parameters a route reads from the raw query string, for the document."""
    described = {
        "query": "LogQL (a stream selector for /labels, /label/.../values, /index/stats)",
        "start": "epoch ns, epoch s (<= 10 digits), float seconds or RFC 3339",
        "end": "as start; default now",
        "time": "as start; default now",
        "step": "a duration (60000ms, 1m) or float seconds",
        "limit": "lines returned (1 .. 5000, default 100)",
        "direction": "forward or backward (default)",
        "match[]": "stream selectors (repeatable)",
    }
    return {
        "parameters": [
            {
                "name": n,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": described[n],
            }
            for n in names
        ]
    }


Read = Annotated[Principal, Depends(require("read"))]
StoreDep = Annotated[Store, Depends(STORE)]
ClockDep = Annotated[Clock, Depends(CLOCK)]


@router.get(
    "/query_range", openapi_extra=_doc("query", "start", "end", "step", "limit", "direction")
)
async def query_range(
    request: Request, principal: Read, store: StoreDep, clock: ClockDep
) -> Response:
    """A LogQL query over a time range: ``streams`` for a log query, ``matrix`` for a
    metric query."""

    def handler(
        reader: Reader, params: dict[str, list[str]], stacks: Any, now: int, bounds: Bounds
    ) -> Any:
        return _run_query(reader, params, stacks, now, bounds, instant=False)

    return await _answer(request, principal, store, clock, handler)


@router.get("/query", openapi_extra=_doc("query", "time", "limit", "direction"))
async def query(request: Request, principal: Read, store: StoreDep, clock: ClockDep) -> Response:
    """A LogQL metric query at one time (``time``): a ``vector`` (or ``scalar``)."""

    def handler(
        reader: Reader, params: dict[str, list[str]], stacks: Any, now: int, bounds: Bounds
    ) -> Any:
        return _run_query(reader, params, stacks, now, bounds, instant=True)

    return await _answer(request, principal, store, clock, handler)


def _labels(
    reader: Reader, params: dict[str, list[str]], stacks: Any, now: int, bounds: Bounds
) -> list[str]:
    window = _window(reader, params, stacks, now, bounds, _selector(params, "query"))
    row = reader.fetch(*label_names_sql(window)).dicts()
    counts = row[0] if row else {}
    names = [n for n in STREAM_COLUMNS + METADATA_LABELS + PUSH_LABELS if counts.get(n)]
    return sorted(names)


@router.get("/labels", openapi_extra=_doc("start", "end", "query"))
async def labels(request: Request, principal: Read, store: StoreDep, clock: ClockDep) -> Response:
    """The label names that streams in the window have."""
    return await _answer(request, principal, store, clock, _labels)


@router.get("/label/{name}/values", openapi_extra=_doc("start", "end", "query"))
async def label_values(
    name: str, request: Request, principal: Read, store: StoreDep, clock: ClockDep
) -> Response:
    """The values label ``name`` takes in the window (``query``: within a selector)."""

    def handler(
        reader: Reader, params: dict[str, list[str]], stacks: Any, now: int, bounds: Bounds
    ) -> list[str]:
        if not name or len(name) > 128 or not (name[0].isalpha() or name[0] == "_"):
            raise LogQLError(f"invalid label name {name[:40]!r}")
        if not all(c.isalnum() or c == "_" for c in name) or not name.isascii():
            raise LogQLError(f"invalid label name {name[:40]!r}")
        window = _window(reader, params, stacks, now, bounds, _selector(params, "query"))
        rows = reader.fetch(*label_values_sql(window, name, bounds.max_entries)).rows
        return [str(r[0]) for r in rows]

    return await _answer(request, principal, store, clock, handler)


def _streams(
    reader: Reader, params: dict[str, list[str]], stacks: Any, now: int, bounds: Bounds
) -> list[dict[str, str]]:
    selectors = params.get("match[]") or params.get("match") or []
    if not selectors:
        selectors = ['{stack_name=~".+"}']
    found: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for text in selectors:
        expr = parse_query(text)
        if not isinstance(expr, LogQuery):
            raise LogQLError("match[] must be stream selectors")
        window = _window(reader, params, stacks, now, bounds, expr.matchers)
        for row in reader.fetch(*series_sql(window, bounds.max_series + 1)).dicts():
            labels = {k: str(v) for k, v in row.items() if v}
            found[tuple(sorted(labels.items()))] = labels
        if len(found) > bounds.max_series:
            raise LimitError(
                f"maximum number of series ({bounds.max_series}) reached for a single "
                "query (max_query_series)"
            )
    return [found[key] for key in sorted(found)]


@router.get("/series", openapi_extra=_doc("match[]", "start", "end"))
async def series(request: Request, principal: Read, store: StoreDep, clock: ClockDep) -> Response:
    """The streams (label sets) matching ``match[]`` in the window."""
    return await _answer(request, principal, store, clock, _streams)


@router.get("/index/stats", openapi_extra=_doc("query", "start", "end"))
async def index_stats(
    request: Request, principal: Read, store: StoreDep, clock: ClockDep
) -> Response:
    """Streams, chunks (one per stream: the hub has no chunks), entries and bytes
    (message and attributes) a selector covers in the window."""

    def handler(
        reader: Reader, params: dict[str, list[str]], stacks: Any, now: int, bounds: Bounds
    ) -> dict[str, int]:
        matchers = _selector(params, "query")
        window = _window(reader, params, stacks, now, bounds, matchers)
        totals = reader.fetch(*stats_sql(window)).dicts()[0]
        window = _window(reader, params, stacks, now, bounds, matchers)
        streams = len(reader.fetch(*series_sql(window, bounds.max_series + 1)).rows)
        return {
            "streams": streams,
            "chunks": streams,
            "entries": int(totals["entries"] or 0),
            "bytes": int(totals["bytes"] or 0),
        }

    try:
        params = await _params(request)
        data = await run_in_threadpool(
            handler, store, params, visible_stacks(principal, None), clock(), _bounds(request)
        )
    except LogQLError as exc:
        return _error(exc)
    return JSONResponse(data)
