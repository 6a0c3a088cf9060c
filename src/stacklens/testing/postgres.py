"""A real PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temporary directory.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as an
unprivileged system user (:data:`TEST_USER`, created with ``useradd`` the first time);
otherwise it runs as the current user. It listens on 127.0.0.1 only, on a free port,
with its unix socket inside its own directory, and password authentication (the URLs
carry a random password, so code that masks passwords in URLs is exercised for real).

    with PostgresServer() as server:
        url = server.url(server.create_database("t1"))

As a pytest fixture: ``yield from postgres_server_session()`` in a session-scoped
fixture (see ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from stacklens.testing import free_port

__all__ = [
    "TEST_USER",
    "PostgresServer",
    "find_postgres_bin",
    "postgres_server_session",
]

#: The unprivileged system user the server runs as when the tests run as root.
TEST_USER: Final = "stacklens-test"
#: The superuser inside the test cluster (not an OS user).
SUPERUSER: Final = "stacklens"
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Durability is not what these tests test; without fsync a test run is several
# times faster on a shared disk.
_FAST_SETTINGS: Final = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def find_postgres_bin() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first (resolved through
    symlinks, so ``pg_ctl`` comes from the same version), else the newest
    ``/usr/lib/postgresql/<version>/bin`` of Debian's packages."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.parent.name.split(".")],
    )
    if candidates:
        return Path(candidates[-1]).parent
    raise RuntimeError("initdb not found: `make test` installs Debian 'postgresql'")


def _ensure_test_user() -> pwd.struct_passwd:
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(TEST_USER)
    # Two test processes may race here: a failed useradd is fine when the user exists.
    subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            TEST_USER,
        ],
        check=False,
        capture_output=True,
    )
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        raise RuntimeError(f"could not create the system user {TEST_USER!r} (useradd)") from None


class PostgresServer:
    """One throw-away PostgreSQL cluster; :meth:`start` / :meth:`stop`, or ``with``."""

    def __init__(self, *, bin_dir: Path | None = None, start_attempts: int = 3) -> None:
        self.bin_dir = bin_dir or find_postgres_bin()
        self.password = secrets.token_urlsafe(18)
        self.user = SUPERUSER
        self.port = 0
        self.directory: Path | None = None
        self._start_attempts = start_attempts
        self._run_as: pwd.struct_passwd | None = None
        self._counter = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> PostgresServer:
        self._run_as = _ensure_test_user() if os.geteuid() == 0 else None
        # The system temp dir, not a test's tmp_path: the server's user must be able to
        # reach it, and pytest's directories are private to the user running the tests.
        self.directory = Path(tempfile.mkdtemp(prefix="stacklens-pg-"))
        try:
            self._chown(self.directory)
            self._initdb()
            self._start_on_free_port()
        except BaseException:
            self._remove_directory()
            raise
        return self

    def stop(self) -> None:
        """``pg_ctl stop -m fast`` and remove the directory; safe to call twice."""
        if self.directory is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run(
                    [self._bin("pg_ctl"), "stop", "-m", "fast", "-w", "-D", str(self.data_dir)]
                )
        finally:
            self._remove_directory()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- what tests use ----------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        assert self.directory is not None, "server not started"
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.directory is not None, "server not started"
        return self.directory / "socket"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """A libpq connection string (what ``psycopg.connect`` takes)."""
        return (
            f"host=127.0.0.1 port={self.port} user={self.user} "
            f"password={self.password} dbname={database}"
        )

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (``name`` or ``t<n>``); returns its name."""
        if name is None:
            self._counter += 1
            name = f"t{self._counter}_{secrets.token_hex(3)}"
        self._execute("CREATE DATABASE {}", name)
        return name

    def drop_database(self, name: str) -> None:
        self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def query(self, statement: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one fixed statement of a test in autocommit; the rows it returns."""
        import psycopg

        with psycopg.connect(self.dsn(database), autocommit=True) as con:
            cursor = con.execute(statement.encode())
            return list(cursor.fetchall()) if cursor.description else []

    def _execute(self, template: str, database_name: str) -> None:
        import psycopg
        from psycopg import sql

        if not _DATABASE_NAME.fullmatch(database_name):
            raise ValueError(f"database name must match {_DATABASE_NAME.pattern}")
        # CREATE/DROP DATABASE cannot run inside a transaction: autocommit.
        with psycopg.connect(self.dsn(), autocommit=True) as con:
            con.execute(sql.SQL(template).format(sql.Identifier(database_name)))

    def log(self) -> str:
        path = self.directory / "server.log" if self.directory else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    # -- internals ---------------------------------------------------------------------

    def _bin(self, name: str) -> str:
        return str(self.bin_dir / name)

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        env: Mapping[str, str] = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "LANG": "C",
            "HOME": str(self.directory),
        }
        kwargs: dict[str, Any] = {}
        if self._run_as is not None:
            kwargs = {
                "user": self._run_as.pw_uid,
                "group": self._run_as.pw_gid,
                "extra_groups": [],
            }
        result = subprocess.run(
            argv,
            cwd=self.directory,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{Path(argv[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout)[-2000:]}"
            )
        return result

    def _initdb(self) -> None:
        assert self.directory is not None
        password_file = self.directory / "password"
        password_file.write_text(self.password + "\n")
        password_file.chmod(0o600)
        self._chown(password_file)
        self.socket_dir.mkdir()
        self._chown(self.socket_dir)
        try:
            self._run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    "--pwfile",
                    str(password_file),
                    "--auth",
                    "scram-sha-256",
                    "--encoding",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            )
        finally:
            password_file.unlink(missing_ok=True)

    def _start_on_free_port(self) -> None:
        assert self.directory is not None
        # free_port() can race another process for the same port: retry on a new one.
        error = ""
        for _ in range(self._start_attempts):
            self.port = free_port()
            options = [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.socket_dir}",
                *(f"-c {setting}" for setting in _FAST_SETTINGS),
            ]
            result = self._run(
                [
                    self._bin("pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.directory / "server.log"),
                    "-o",
                    " ".join(options),
                ],
                check=False,
            )
            if result.returncode == 0:
                return
            error = self.log()[-2000:] or result.stderr
        raise RuntimeError(f"PostgreSQL did not start: {error}")

    def _remove_directory(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def postgres_server_session() -> Iterator[PostgresServer]:
    """A started server for a pytest fixture (``yield from``); stopped and removed
    afterwards, also when a test failed."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
