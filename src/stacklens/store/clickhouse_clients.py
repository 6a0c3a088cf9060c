"""``clickhouse-connect`` clients for the ClickHouse store: a server over HTTP, or
the embedded engine through chDB (the optional ``clickhouse`` extra).

chDB runs one engine per process, on one data path: a second path in the same
process is refused (``EmbeddedServer already initialized with path ...``), clients on
the same path share it. So a process holds one chDB path and separates stores by
database (the tests: one path per test session, a fresh database per test).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from stacklens.store.dialect import check_identifier

__all__ = ["chdb_clients", "http_clients"]


def chdb_clients(path: str, database: str) -> tuple[Any, Any]:
    """(writer, reader) on the embedded engine at ``path``, database ``database``
    (created if missing)."""
    import clickhouse_connect

    name = check_identifier(database)
    admin = clickhouse_connect.get_client(interface="chdb", path=path)
    try:
        admin.command(f"CREATE DATABASE IF NOT EXISTS {name}")
    finally:
        admin.close()
    writer = clickhouse_connect.get_client(interface="chdb", path=path, database=name)
    reader = clickhouse_connect.get_client(interface="chdb", path=path, database=name)
    # In the process, no wire: an Arrow read compressed (ClickHouse's default, LZ4) is
    # compressed only to be decompressed at once. Uncompressed, a 310 k-row PromQL
    # read took 29-34 ms against 39-45 (10 M events); HTTP clients keep the default.
    reader.set_client_setting("output_format_arrow_compression_method", "none")
    return writer, reader


def http_clients(
    host: str, port: int, username: str, password: str, database: str, *, secure: bool = False
) -> tuple[Any, Any]:
    """(writer, reader) on a ClickHouse server over HTTP. The writer has a session
    (its temporary ``staging`` table lives there) and is used by one thread at a time;
    the reader has none, so concurrent reads do not contend for a session lock."""
    import clickhouse_connect

    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "username": username,
        "password": password,
        "database": check_identifier(database),
        "secure": secure,
    }
    with _driver_quiet():
        writer = clickhouse_connect.get_client(**common, autogenerate_session_id=True)
        reader = clickhouse_connect.get_client(**common, autogenerate_session_id=False)
    return writer, reader


@contextlib.contextmanager
def _driver_quiet() -> Iterator[None]:
    """The driver logs a failed first connection itself; the caller reports it as the
    one line that names the URL, so the driver's log line would be a second."""
    logger = logging.getLogger("clickhouse_connect")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
