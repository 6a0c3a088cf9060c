"""The PostgreSQL test server: real, unprivileged, loopback only, gone afterwards."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
import sqlalchemy as sa

from stacklens.testing.postgres import TEST_USER, PostgresServer


def test_postgres_url_is_a_fresh_database(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as con:
            tables = con.scalar(
                sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
            assert tables == 0
            con.execute(sa.text("CREATE TABLE t (n integer)"))
            con.execute(sa.text("INSERT INTO t VALUES (1), (2)"))
            assert con.scalar(sa.text("SELECT sum(n) FROM t")) == 3
    finally:
        engine.dispose()


def test_each_test_gets_its_own_database(postgres_server: PostgresServer) -> None:
    first = postgres_server.create_database()
    second = postgres_server.create_database()
    assert first != second
    names = {row[0] for row in postgres_server.query("SELECT datname FROM pg_database")}
    assert {first, second} <= names
    postgres_server.drop_database(first)
    postgres_server.drop_database(second)
    names = {row[0] for row in postgres_server.query("SELECT datname FROM pg_database")}
    assert not {first, second} & names


def test_server_runs_unprivileged_on_loopback(postgres_server: PostgresServer) -> None:
    settings = dict(
        postgres_server.query(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('listen_addresses', 'port', 'unix_socket_directories', 'data_directory')"
        )
    )
    assert settings["listen_addresses"] == "127.0.0.1"
    assert int(settings["port"]) == postgres_server.port
    assert settings["unix_socket_directories"] == str(postgres_server.socket_dir)
    owner = pwd.getpwuid(os.stat(settings["data_directory"]).st_uid).pw_name
    expected = TEST_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    assert owner == expected


def test_wrong_password_is_refused(postgres_server: PostgresServer) -> None:
    url = postgres_server.url().replace(postgres_server.password, "wrong")
    engine = sa.create_engine(url)
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        engine.connect()
    engine.dispose()


def test_stop_removes_everything_even_after_a_failure() -> None:
    class TestFailedError(Exception):
        pass

    server = PostgresServer()
    seen: dict[str, object] = {}

    def failing_test() -> None:
        with server:
            seen["directory"] = server.directory
            seen["running"] = (server.data_dir / "postmaster.pid").exists()
            raise TestFailedError

    with pytest.raises(TestFailedError):
        failing_test()
    directory, port = seen["directory"], server.port
    assert seen["running"] is True
    assert isinstance(directory, Path) and not directory.exists()
    engine = sa.create_engine(server.url())
    with pytest.raises(sa.exc.OperationalError):
        engine.connect()  # nothing listens on the port any more
    engine.dispose()
    assert server.port == port
    server.stop()  # a second stop is harmless
