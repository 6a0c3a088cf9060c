"""A route gets its part through the slot the composition root filled."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from stacklens.api.parts import NotProvidedError, Part

GREETING = Part[str]("greeting")


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    def hello(greeting: Annotated[str, Depends(GREETING)]) -> dict[str, str]:
        return {"said": greeting}

    return app


def test_a_route_receives_the_provided_part() -> None:
    app = _app()
    GREETING.provide(app, "hello")
    assert TestClient(app).get("/").json() == {"said": "hello"}
    other = _app()
    GREETING.provide(other, "bonjour")  # each app has its own parts
    assert TestClient(other).get("/").json() == {"said": "bonjour"}
    assert GREETING.get(app) == "hello"


def test_a_missing_part_is_named() -> None:
    with pytest.raises(NotProvidedError, match="greeting"):
        GREETING.get(FastAPI())
