"""The ASGI middleware on FastAPI and Starlette, and the /metrics app."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from stacklens.sdk import StackLensMiddleware
from stacklens.sdk.asgi import MetricsApp
from stacklens.sdk.context import current_context

LogCapture = Any


def make_app(registry: CollectorRegistry, seen: dict[str, Any]) -> FastAPI:
    app = FastAPI()

    @app.get("/users/{user_id}")
    async def user(user_id: str) -> dict[str, str]:
        seen["trace_id"] = current_context().trace_id
        seen["in_progress"] = registry.get_sample_value(
            "http_requests_in_progress", {"stack_name": "web", "method": "GET"}
        )
        return {"user": user_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("handler failed")

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(StackLensMiddleware, registry=registry, stack_name="web")
    return app


def test_fastapi_requests_are_measured_traced_and_logged(
    registry: CollectorRegistry, logs: LogCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The header contract of an app that is not traced. An active OpenTelemetry span
    # wins by design (tested below); once another test in this process has installed a
    # global tracer provider (the Langfuse SDK does), FastAPI's own telemetry opens a
    # span per request, so take the OTel lookups out here.
    for module in ("trace", "logging", "client"):
        monkeypatch.setattr(f"stacklens.sdk.{module}.otel_ids", lambda: None)
    seen: dict[str, Any] = {}
    client = TestClient(make_app(registry, seen), raise_server_exceptions=False)
    for user in ("1", "2", "3"):
        response = client.get(f"/users/{user}", headers={"x-trace-id": f"trace-{user}"})
        assert response.status_code == 200
        assert response.headers["x-trace-id"] == f"trace-{user}"
    assert seen["trace_id"] == "trace-3"
    assert seen["in_progress"] == 1.0
    assert client.get("/boom").status_code == 500
    assert client.get("/nowhere").status_code == 404
    assert client.get("/health").status_code == 200

    value = registry.get_sample_value
    labels = {"stack_name": "web", "method": "GET"}
    # One series for the route template, not one per user.
    assert (
        value("http_requests_total", {**labels, "endpoint": "/users/{user_id}", "status": "200"})
        == 3
    )
    assert (
        value("http_request_duration_seconds_count", {**labels, "endpoint": "/users/{user_id}"})
        == 3
    )
    assert value("http_requests_total", {**labels, "endpoint": "/boom", "status": "500"}) == 1
    assert value("http_requests_total", {**labels, "endpoint": "<unmatched>", "status": "404"}) == 1
    assert value("http_requests_in_progress", labels) == 0
    assert value("http_requests_total", {**labels, "endpoint": "/health", "status": "200"}) is None

    access = [r for r in logs.records() if r["message"] == "request"]
    assert [r["status_code"] for r in access] == [200, 200, 200, 500, 404]
    assert access[0]["trace_id"] == "trace-1"
    assert access[0]["path"] == "/users/1"
    assert access[0]["endpoint"] == "/users/{user_id}"
    assert access[3]["level"] == "error"
    assert isinstance(access[0]["duration_ms"], float)


def test_traceparent_and_minted_ids(registry: CollectorRegistry) -> None:
    client = TestClient(make_app(registry, {}))
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert client.get("/users/1", headers={"traceparent": tp}).headers["x-trace-id"] == (
        "4bf92f3577b34da6a3ce929d0e0e4736"
    )
    minted = client.get("/users/1").headers["x-trace-id"]
    assert len(minted) == 32
    assert client.get("/users/1").headers["x-trace-id"] != minted


def test_metrics_endpoint_served_by_middleware(registry: CollectorRegistry) -> None:
    client = TestClient(make_app(registry, {}))
    client.get("/users/1")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{endpoint="/users/{user_id}"' in response.text
    openmetrics = client.get("/metrics", headers={"accept": "application/openmetrics-text"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")


def test_plain_starlette_and_metrics_app_as_a_route(registry: CollectorRegistry) -> None:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app = Starlette(routes=[Route("/hello/{name}", hello), Route("/prom", MetricsApp(registry))])
    wrapped = StackLensMiddleware(
        app, registry=registry, stack_name="web", metrics_path=None, access_log=False
    )
    client = TestClient(wrapped)
    assert client.get("/hello/bob").text == "hi"
    body = client.get("/prom").text
    assert 'endpoint="/hello/{name}"' in body


def test_non_http_scopes_pass_through(registry: CollectorRegistry) -> None:
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    middleware = StackLensMiddleware(app, registry=registry)

    async def noop() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        return None

    asyncio.run(middleware({"type": "lifespan"}, noop, send))
    asyncio.run(middleware({"type": "websocket", "path": "/ws", "headers": []}, noop, send))
    assert calls == ["lifespan", "websocket"]
