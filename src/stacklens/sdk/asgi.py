"""Plain ASGI middleware (FastAPI, Starlette, any ASGI 3 app) and a ``/metrics`` app.

Per HTTP request: trace read or minted and bound to the log context (seed 004
``x-trace-id``, W3C ``traceparent``), ``x-trace-id`` echoed on the response,
``http_requests_in_progress`` while it runs, then ``http_requests_total`` and
``http_request_duration_seconds`` and one access-log line.

The ``endpoint`` label is the route *template* when the framework reports one
(FastAPI/Starlette put the matched route in ``scope["route"]``), so ``/users/{id}``
stays one series; a raw path is bounded by the catalog's label guard (``"other"``
past 200 distinct values), and a 404 is labelled ``"<unmatched>"``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from stacklens.sdk.catalog import Metrics
from stacklens.sdk.context import bind_context, reset_context
from stacklens.sdk.logging import StructuredLogger, get_structured_logger
from stacklens.sdk.trace import TRACE_ID_HEADER, trace_from_headers

__all__ = ["MetricsApp", "StackLensMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_UNMATCHED: Final = "<unmatched>"


class MetricsApp:
    """ASGI app answering the Prometheus exposition of ``registry`` (text or
    OpenMetrics, by ``Accept``). ``app.add_route("/metrics", MetricsApp())``.

    The SDK's one ASGI metrics app: :class:`StackLensMiddleware` serves ``/metrics``
    with it, and an app that mounts the exposition elsewhere mounts it directly."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = Metrics(registry).registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        accept = ""
        for key, value in scope.get("headers", ()):
            if key == b"accept":
                accept = value.decode("latin-1")
        encoder, content_type = choose_encoder(accept)
        body = encoder(self.registry)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _endpoint(scope: Scope, status: int) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str) and template:
        return str(scope.get("root_path", "")) + template
    if status == 404:
        return _UNMATCHED
    return str(scope.get("path", ""))


class StackLensMiddleware:
    """``app.add_middleware(StackLensMiddleware)`` (FastAPI/Starlette) or
    ``app = StackLensMiddleware(app)`` (any ASGI app).

    ``metrics_path`` is answered by the middleware itself (``None`` to leave it to the
    app); ``exclude_paths`` are served without metrics or access log (health probes).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: CollectorRegistry | None = None,
        stack_name: str | None = None,
        logger: StructuredLogger | None = None,
        access_log: bool = True,
        metrics_path: str | None = "/metrics",
        exclude_paths: tuple[str, ...] = ("/health", "/healthz", "/ready", "/livez"),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self.metrics = Metrics(registry, stack_name=stack_name)
        self.logger = logger or get_structured_logger("stacklens.access")
        self.access_log = access_log
        self.metrics_path = metrics_path
        self.exclude_paths = frozenset(exclude_paths)
        self._metrics_app = MetricsApp(self.metrics.registry)
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == self.metrics_path:
            await self._metrics_app(scope, receive, send)
            return
        trace = trace_from_headers(scope.get("headers", ()))
        token = bind_context(trace_id=trace.trace_id, span_id=trace.span_id)
        echo = (TRACE_ID_HEADER.encode(), trace.trace_id.encode())
        if path in self.exclude_paths:
            try:
                await self.app(scope, receive, _echoing(send, echo, None))
            finally:
                reset_context(token)
            return
        method = scope.get("method", "GET")
        status = [500]  # what a crash before the response start is counted as
        in_progress = self.metrics.labels("http_requests_in_progress", method=method)
        in_progress.inc()
        started = self._clock()
        try:
            await self.app(scope, receive, _echoing(send, echo, status))
        finally:
            elapsed = self._clock() - started
            in_progress.dec()
            endpoint = _endpoint(scope, status[0])
            self.metrics.labels(
                "http_requests_total", method=method, endpoint=endpoint, status=status[0]
            ).inc()
            self.metrics.labels(
                "http_request_duration_seconds", method=method, endpoint=endpoint
            ).observe(elapsed)
            if self.access_log:
                self.logger.log_request(
                    method, path, status[0], elapsed * 1000.0, endpoint=endpoint
                )
            reset_context(token)


def _echoing(send: Send, header: tuple[bytes, bytes], status: list[int] | None) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            if status is not None:
                status[0] = int(message["status"])
            headers = list(message.get("headers", ()))
            if not any(key.lower() == header[0] for key, _ in headers):
                headers.append(header)
            message["headers"] = headers
        await send(message)

    return wrapped
