from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from stacklens.sdk.context import clear_context
from stacklens.sdk.logging import reset_structured_logging, setup_structured_logging
from stacklens.testing import HubProcess


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture(autouse=True)
def _clean_context() -> Iterator[None]:
    clear_context()
    yield
    clear_context()


class LogCapture:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Structured logging configured for service ``svc`` at debug, into a buffer."""
    capture = LogCapture()
    setup_structured_logging("svc", "debug", stream=capture.stream)
    yield capture
    reset_structured_logging()


class FakeHub:
    """An ``httpx.MockTransport`` handler that plays the hub's ingest endpoint."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        #: Called per request; returns a response to short-circuit, or None to accept.
        self.behaviour: Callable[[httpx.Request, list[dict[str, Any]]], httpx.Response | None]
        self.behaviour = lambda request, events: None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        import gzip

        self.requests.append(request)
        body = request.content
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        events = [json.loads(line) for line in body.splitlines() if line.strip()]
        answer = self.behaviour(request, events)
        if answer is not None:
            return answer
        self.events.extend(events)
        return httpx.Response(200, json={"accepted": len(events), "rejected": []})

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


@pytest.fixture
def fake_hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "hub-data").start()
    try:
        yield process
    finally:
        process.stop()
