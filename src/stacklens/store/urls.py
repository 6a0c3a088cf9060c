"""The event store by URL (``STACKLENS_STORE_URL``):

- ``duckdb:///path/events.duckdb`` — the embedded default (no URL: the data
  directory's ``events.duckdb``);
- ``clickhouse://user:password@host:8123/database`` — a ClickHouse server over HTTP
  (``?secure=1`` for HTTPS; ``?cluster=1`` for the clustered migrations);
- ``chdb:///path`` — ClickHouse embedded through chDB (``?database=name``, default
  ``stacklens``), one path per process.

A URL that cannot be used — unknown scheme, missing parts, an extra not installed, a
server that does not answer — raises :class:`StoreUnavailableError`, whose message is
one line naming the URL with its password masked (the CLI prints it and exits 2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from stacklens.store.base import Store
from stacklens.store.dialect import Dialect, check_identifier
from stacklens.store.duckdb import DuckDBStore

__all__ = [
    "Rollups",
    "StoreOptions",
    "StoreURL",
    "StoreUnavailableError",
    "mask_url",
    "open_store",
    "parse_store_url",
]

Scheme = Literal["duckdb", "clickhouse", "chdb"]
_DEFAULT_PORTS: Final = {False: 8123, True: 8443}
#: The rollups' DDL and load hooks over a dialect (the analytics package's, passed in:
#: the store package does not import analytics).
Rollups = Callable[[Dialect], tuple[list[str], dict[str, list[str]]]]


class StoreUnavailableError(RuntimeError):
    """The store URL cannot be used; the message is one line, password masked."""


@dataclass(frozen=True)
class StoreURL:
    scheme: Scheme
    #: duckdb / chdb: the file or directory; None: the default under the data dir.
    path: Path | None = None
    host: str = ""
    port: int = 0
    username: str = "default"
    password: str = field(default="", repr=False)
    database: str = "default"
    secure: bool = False
    clustered: bool = False


@dataclass(frozen=True)
class StoreOptions:
    """What the hub configures besides the URL."""

    data_dir: Path
    duckdb_memory_limit: str = "256MB"
    duckdb_threads: int = 2
    duckdb_checkpoint_threshold: str = "256MB"
    dedup_window_ns: int = 3600 * 10**9
    #: Raw table → days its rows are kept (ClickHouse TTL; DuckDB's retention job
    #: drops day tables instead).
    ttl_days: Mapping[str, int] = field(default_factory=dict)


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if _port_or_none(parts) else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _port_or_none(parts: object) -> int | None:
    try:
        return parts.port  # type: ignore[attr-defined, no-any-return]
    except ValueError:
        return None


def _fail(url: str, why: str) -> StoreUnavailableError:
    return StoreUnavailableError(f"store URL {mask_url(url)}: {why}")


def parse_store_url(url: str) -> StoreURL:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _fail(url, f"not a URL ({exc})") from None
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}

    def flag(name: str) -> bool:
        return query.get(name, "").lower() in ("1", "true", "yes")

    scheme = parts.scheme.lower()
    if scheme == "duckdb":
        path = unquote(parts.netloc + parts.path)
        return StoreURL("duckdb", Path(path) if path else None)
    if scheme == "chdb":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise _fail(url, "a chdb URL names a directory: chdb:///path/to/dir")
        return StoreURL("chdb", Path(path), database=_database(url, query.get("database")))
    if scheme == "clickhouse":
        if not parts.hostname:
            raise _fail(url, "no host: clickhouse://user:password@host:8123/database")
        port = _port_or_none(parts)
        if port is None and ":" in parts.netloc.rsplit("@", 1)[-1]:
            raise _fail(url, "the port is not a number")
        secure = flag("secure")
        return StoreURL(
            "clickhouse",
            host=parts.hostname,
            port=port or _DEFAULT_PORTS[secure],
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database=_database(url, parts.path.strip("/") or "default"),
            secure=secure,
            clustered=flag("cluster"),
        )
    raise _fail(
        url, "unknown scheme (use duckdb:///path, clickhouse://host:8123/db or chdb:///path)"
    )


def _database(url: str, name: str | None) -> str:
    name = name or "stacklens"
    try:
        return check_identifier(name)
    except ValueError:
        raise _fail(url, f"not a database name: {name!r}") from None


def open_store(url: str | None, options: StoreOptions, rollups: Rollups) -> Store:
    """The store ``url`` names, opened, migrated and with the rollups installed."""
    parsed = parse_store_url(url) if url else StoreURL("duckdb")
    if parsed.scheme == "duckdb":
        return _open_duckdb(parsed, options, rollups)
    text = url or ""
    try:
        from stacklens.store.clickhouse import ClickHouseStore
        from stacklens.store.clickhouse_clients import chdb_clients, http_clients
        from stacklens.store.clickhouse_dialect import CLICKHOUSE
    except ModuleNotFoundError as exc:  # pragma: no cover - the extra is in dev
        raise _fail(
            text,
            f"needs the clickhouse extra: pip install 'stacklens[clickhouse]' ({exc.name} missing)",
        ) from None
    ddl, hooks = rollups(CLICKHOUSE)
    try:
        if parsed.scheme == "chdb":
            assert parsed.path is not None
            parsed.path.mkdir(parents=True, exist_ok=True)
            writer, reader = chdb_clients(str(parsed.path), parsed.database)
        else:
            writer, reader = http_clients(
                parsed.host,
                parsed.port,
                parsed.username,
                parsed.password,
                parsed.database,
                secure=parsed.secure,
            )
        return ClickHouseStore(
            writer,
            reader=reader,
            extra_ddl=ddl,
            load_hooks=hooks,
            dedup_window_ns=options.dedup_window_ns,
            ttl_days=options.ttl_days,
            clustered=parsed.clustered,
            serialize_reads=parsed.scheme == "chdb",
        )
    except ModuleNotFoundError as exc:
        extra = "chdb" if parsed.scheme == "chdb" else "clickhouse"
        raise _fail(
            text, f"needs the {extra} extra: pip install 'stacklens[{extra}]' ({exc.name} missing)"
        ) from None
    except Exception as exc:  # any driver/network error: one line, no traceback
        raise _fail(text, f"cannot open ({_one_line(exc, parsed.password)})") from None


def _open_duckdb(parsed: StoreURL, options: StoreOptions, rollups: Rollups) -> Store:
    import duckdb

    from stacklens.store.dialect import DUCKDB

    ddl, hooks = rollups(DUCKDB)
    path = parsed.path or options.data_dir / "events.duckdb"
    try:
        return _duckdb_store(DuckDBStore, path, options, ddl, hooks)
    except (OSError, duckdb.Error) as exc:
        url = f"duckdb://{path}"
        raise _fail(url, f"cannot open ({_one_line(exc, '')})") from None


def _duckdb_store(
    store: type[DuckDBStore],
    path: Path,
    options: StoreOptions,
    ddl: list[str],
    hooks: dict[str, list[str]],
) -> DuckDBStore:
    return store(
        path,
        memory_limit=options.duckdb_memory_limit,
        threads=options.duckdb_threads,
        checkpoint_threshold=options.duckdb_checkpoint_threshold,
        extra_ddl=ddl,
        load_hooks=hooks,
        dedup_window_ns=options.dedup_window_ns,
    )


def _one_line(exc: BaseException, password: str) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    refused = re.search(r"\[Errno -?\d+\][^\"')]*", text)
    if refused:  # the driver's retry chatter around a socket error: the error
        text = refused[0].strip()
    if password:
        text = text.replace(password, "***")
    return text[:300]
