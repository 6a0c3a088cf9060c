"""Fault injection at the ClickHouse adapter: a client wrapper that fails one chosen
call, the way a network or a server fails.

- ``before``: the call never reaches ClickHouse (a refused connection);
- ``after``: the call runs and commits, then the answer is lost (a reset connection);
- ``timeout``: the client gives up before the answer while the server goes on and
  commits (the call finishes on a thread; the next call waits for it, as a server's
  in-flight insert lands before a later one).

A fault is armed for the next call whose target matches (an insert's table, or a
substring of a command's SQL), once.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from stacklens.store.clickhouse import ClickHouseClient

__all__ = ["FaultyClient", "InjectedFault", "Mode"]

Mode = Literal["before", "after", "timeout"]


class InjectedFault(ConnectionError):
    """The failure a fault raised (a connection error: the store retries it)."""


class FaultyClient:
    """Wraps a client; :meth:`arm` a fault, and every call passes through."""

    def __init__(self, inner: ClickHouseClient) -> None:
        self.inner = inner
        self._armed: tuple[Mode, str] | None = None
        self._in_flight: threading.Thread | None = None
        #: The faults raised so far: (mode, the call's target).
        self.fired: list[tuple[Mode, str]] = []

    def arm(self, mode: Mode, target: str) -> None:
        """Fail the next call on ``target`` (a table inserted into, or text of a
        command) by ``mode``."""
        self._armed = (mode, target)

    def _call(self, target: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        if self._in_flight is not None:
            self._in_flight.join()
            self._in_flight = None
        armed = self._armed
        if armed is None or armed[1] not in target:
            return call(*args, **kwargs)
        self._armed = None
        mode = armed[0]
        self.fired.append((mode, target))
        if mode == "before":
            raise InjectedFault(f"injected: refused before {target[:60]!r}")
        if mode == "after":
            call(*args, **kwargs)
            raise InjectedFault(f"injected: answer lost after {target[:60]!r} committed")
        self._in_flight = threading.Thread(target=call, args=args, kwargs=kwargs)
        self._in_flight.start()
        raise TimeoutError(f"injected: timed out waiting for {target[:60]!r}")

    def command(
        self, cmd: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any:
        return self._call(cmd, self.inner.command, cmd, parameters=parameters, settings=settings)

    def query(
        self, query: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any:
        return self._call(query, self.inner.query, query, parameters=parameters, settings=settings)

    def query_arrow(
        self, query: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any:
        return self._call(
            query, self.inner.query_arrow, query, parameters=parameters, settings=settings
        )

    def set_client_setting(self, key: str, value: Any) -> None:
        self.inner.set_client_setting(key, value)  # configuration: never a fault

    def insert_arrow(
        self, table: str, arrow_table: Any, database: str | None = None, settings: Any = None
    ) -> Any:
        return self._call(
            f"insert {table}",
            self.inner.insert_arrow,
            table,
            arrow_table,
            database=database,
            settings=settings,
        )

    def close(self) -> None:
        if self._in_flight is not None:
            self._in_flight.join()
        self.inner.close()
