"""STACKLENS_STORE_URL: parsing, masking, and a bad or unreachable URL as one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacklens.store.urls import (
    StoreOptions,
    StoreUnavailableError,
    mask_url,
    open_store,
    parse_store_url,
)
from stacklens.testing import free_port


def _no_rollups(_: object) -> tuple[list[str], dict[str, list[str]]]:
    return [], {}


def test_each_scheme_parses() -> None:
    duck = parse_store_url("duckdb:///var/lib/stacklens/events.duckdb")
    assert (duck.scheme, duck.path) == ("duckdb", Path("/var/lib/stacklens/events.duckdb"))
    assert parse_store_url("duckdb://").path is None  # the data dir's events.duckdb
    server = parse_store_url("clickhouse://writer:p%40ss@ch.internal:9123/observability")
    assert (server.host, server.port, server.username, server.password, server.database) == (
        "ch.internal",
        9123,
        "writer",
        "p@ss",
        "observability",
    )
    assert (server.secure, server.clustered) == (False, False)
    tls = parse_store_url("clickhouse://ch.internal/db?secure=1&cluster=true")
    assert (tls.port, tls.secure, tls.clustered, tls.username) == (8443, True, True, "default")
    assert parse_store_url("clickhouse://ch.internal").port == 8123
    embedded = parse_store_url("chdb:///srv/chdb?database=events_db")
    assert (embedded.scheme, embedded.path, embedded.database) == (
        "chdb",
        Path("/srv/chdb"),
        "events_db",
    )
    assert parse_store_url("chdb:///srv/chdb").database == "stacklens"
    assert "p@ss" not in repr(server)


def test_passwords_are_masked() -> None:
    assert mask_url("clickhouse://u:hunter2@h:8123/db") == "clickhouse://u:***@h:8123/db"
    assert mask_url("duckdb:///x") == "duckdb:///x"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgres://u:hunter2@h/db", "unknown scheme"),
        ("clickhouse://u:hunter2@:8123/db", "no host"),
        ("clickhouse://u:hunter2@h:80x/db", "port"),
        ("clickhouse://u:hunter2@h:8123/bad-name", "database name"),
        ("chdb://", "directory"),
    ],
)
def test_a_bad_url_is_one_line_naming_it(url: str, why: str) -> None:
    with pytest.raises(StoreUnavailableError) as raised:
        parse_store_url(url)
    message = str(raised.value)
    assert why in message and "\n" not in message
    assert ("hunter2" not in message and "***" in message) or "hunter2" not in url


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    url = f"clickhouse://u:hunter2@127.0.0.1:{free_port()}/db"  # nothing listens
    with pytest.raises(StoreUnavailableError) as raised:
        open_store(url, StoreOptions(data_dir=tmp_path), _no_rollups)
    message = str(raised.value)
    assert message.startswith(f"store URL clickhouse://u:***@127.0.0.1:{url.split(':')[3]}")
    assert "cannot open" in message and "\n" not in message and "hunter2" not in message


def test_serve_with_a_bad_store_url_prints_one_line_and_exits(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "STACKLENS_STORE_URL": f"clickhouse://u:hunter2@127.0.0.1:{free_port()}/db",
        "STACKLENS_SECRET_KEY": "test-secret-key",
    }
    done = subprocess.run(
        [sys.executable, "-m", "stacklens.cli", "serve", "--data-dir", str(tmp_path / "d")],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1, done.stderr.decode()
    assert "store URL clickhouse://u:***@127.0.0.1" in lines[0] and "Traceback" not in lines[0]
    assert b"hunter2" not in done.stderr + done.stdout
