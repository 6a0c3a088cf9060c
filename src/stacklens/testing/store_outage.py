"""A ClickHouse outage on cue: a client wrapper whose every call fails while the
switch is down, as when the server is unreachable (connection refused), and passes
through again when it is back up.

Unlike :mod:`stacklens.testing.clickhouse_faults` (one chosen call fails once), an
outage takes every call, pings and reads included, for as long as it lasts: what the
hub must ride out by acknowledging into its spool up to the backlog bound.
"""

from __future__ import annotations

import threading
from typing import Any

from stacklens.store.clickhouse import ClickHouseClient

__all__ = ["Outage", "OutageClient", "StoreDownError"]


class StoreDownError(ConnectionError):
    """Raised by every call during an outage (a connection error: the loader retries)."""


class Outage:
    """The switch shared by the clients of one store."""

    def __init__(self) -> None:
        self._down = threading.Event()
        #: Calls refused while down (proof that the hub kept trying).
        self.refused = 0

    @property
    def down(self) -> bool:
        return self._down.is_set()

    def begin(self) -> None:
        self._down.set()

    def end(self) -> None:
        self._down.clear()

    def check(self, what: str) -> None:
        if self._down.is_set():
            self.refused += 1
            raise StoreDownError(f"ClickHouse unreachable (injected outage): {what[:60]!r}")


class OutageClient:
    """Wraps a client; every call fails while ``outage`` is down."""

    def __init__(self, inner: ClickHouseClient, outage: Outage) -> None:
        self.inner = inner
        self.outage = outage

    def command(
        self, cmd: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any:
        self.outage.check(cmd)
        return self.inner.command(cmd, parameters=parameters, settings=settings)

    def query(
        self, query: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any:
        self.outage.check(query)
        return self.inner.query(query, parameters=parameters, settings=settings)

    def insert_arrow(
        self, table: str, arrow_table: Any, database: str | None = None, settings: Any = None
    ) -> Any:
        self.outage.check(f"insert {table}")
        return self.inner.insert_arrow(table, arrow_table, database=database, settings=settings)

    def query_arrow(
        self, query: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any:
        self.outage.check(query)
        return self.inner.query_arrow(query, parameters=parameters, settings=settings)

    def set_client_setting(self, key: str, value: Any) -> None:
        self.inner.set_client_setting(key, value)  # configuration, before any outage

    def close(self) -> None:
        self.inner.close()
