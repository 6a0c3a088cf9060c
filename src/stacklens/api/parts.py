"""How a route receives the parts it needs: typed FastAPI dependencies, bound once by the
composition root.

A module that serves HTTP declares, next to the interface it depends on, a
:class:`Part` — a named, typed slot::

    INGEST = Part[IngestService]("ingest")

    @router.post("/v1/events")
    async def ingest(service: Annotated[IngestService, Depends(INGEST)]) -> ...

and the composition root fills it (``INGEST.provide(app, service)``). Routes never
import the module that builds the app, so no import cycle runs through it, and a test
can serve a router with any object that has the interface.
"""

from __future__ import annotations

from typing import Generic, TypeVar, cast

from fastapi import FastAPI, Request

from stacklens.ids import Clock
from stacklens.store.base import Store

__all__ = ["CLOCK", "STORE", "NotProvidedError", "Part"]

T = TypeVar("T")


class NotProvidedError(LookupError):
    """A route needs a part the composition root did not provide (a wiring bug)."""


class Part(Generic[T]):
    """A named slot for one part of the hub; called by FastAPI as a dependency."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Part({self.name!r})"

    def provide(self, app: FastAPI, value: T) -> None:
        """Bind ``value`` to this slot for every route of ``app``."""
        provided: dict[str, object] = _provided(app)
        provided[self.name] = value

    def get(self, app: FastAPI) -> T:
        """The part bound to this slot (outside a request: startup, the console)."""
        try:
            return cast(T, _provided(app)[self.name])
        except KeyError:
            raise NotProvidedError(f"no part {self.name!r} was provided to this app") from None

    def find(self, app: FastAPI) -> T | None:
        """The part bound to this slot, or ``None`` (an optional part)."""
        return cast("T | None", _provided(app).get(self.name))

    def __call__(self, request: Request) -> T:
        return self.get(request.app)


def _provided(app: FastAPI) -> dict[str, object]:
    state = app.state
    if not hasattr(state, "parts"):
        state.parts = {}
    parts: dict[str, object] = state.parts
    return parts


#: The hub's clock (epoch ns): "now" for relative time windows.
CLOCK = Part[Clock]("clock")
#: The event store, for reads (writes go through the loader).
STORE = Part[Store]("store")
