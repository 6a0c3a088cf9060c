"""Test helpers shipped with stacklens (and used by its own tests).

- :class:`ManualClock`, :class:`SequentialIds`: deterministic clock and ids to inject.
- :func:`hub_config`, :func:`in_process_hub`: a hub on a temporary data dir, driven
  in-process through Starlette's ASGI test client (lifespan included).
- :class:`HubProcess`: a real ``stacklens serve`` process on 127.0.0.1 and a free port,
  for tests where the network path, a crash or a restart is what is tested.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "ADMIN_KEY",
    "HubProcess",
    "ManualClock",
    "SequentialIds",
    "free_port",
    "hub_config",
    "in_process_hub",
    "require_binary",
    "wait_until",
]

#: The bootstrap admin key test hubs are started with.
ADMIN_KEY = "slk_test_admin_key_0123456789abcdefghijklmnop"


class ManualClock:
    """A clock that moves only when told (epoch nanoseconds)."""

    def __init__(self, start_ns: int = 1_767_225_600 * 10**9) -> None:  # 2026-01-01T00:00Z
        self.now_ns = start_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1e9)


class SequentialIds:
    """Ids ``{prefix}000001``, ``{prefix}000002``, ... in order."""

    def __init__(self, prefix: str = "id") -> None:
        self.prefix = prefix
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"{self.prefix}{self.count:06d}"


def require_binary(*names: str, package: str) -> str:
    """The path of the first of ``names`` on PATH; a loud error (not a skip) when none
    is, because a missing tool means a missing install step, not a passing test."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError(f"{'/'.join(names)} not found: `make test` installs Debian {package!r}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


#: Tiers long enough for any fixed test date.
LONG_RETENTION: dict[str, str] = {
    "retention_events": "50y",
    "retention_rollups": "50y",
    "retention_sessions": "50y",
    "retention_billing": "50y",
}
#: The tiers a hub runs with by default (the seed's).
SEED_RETENTION: dict[str, str] = {
    "retention_events": "7d",
    "retention_rollups": "90d",
    "retention_sessions": "365d",
    "retention_billing": "7y",
}


def hub_config(data_dir: Path, **overrides: Any) -> Any:
    from stacklens.config import HubConfig

    values: dict[str, Any] = {
        "data_dir": data_dir,
        "bootstrap_admin_key": ADMIN_KEY,
        "secret_key": "test-secret-key",
        "loader_interval_s": 0.05,
        # In-process hubs do not listen for OTLP/gRPC unless a test gives them a port.
        "otlp_grpc_port": 0,
        # Tests send events with fixed dates (2026-01-10 ...) on the real clock: the
        # seed's 7-day raw retention would refuse them at the door. Tests of retention
        # pass the tiers they test (``**SEED_RETENTION``).
        **LONG_RETENTION,
    }
    values.update(overrides)
    return HubConfig(**values)


@contextlib.contextmanager
def in_process_hub(data_dir: Path, **overrides: Any) -> Iterator[tuple[Any, Any]]:
    """``(hub, client)``: a started hub and a Starlette ``TestClient`` bound to it.

    Keyword arguments ``clock``, ``new_id``, ``registry`` and ``store`` go to the
    ``Hub``; the rest override the config.
    """
    from fastapi.testclient import TestClient

    from stacklens.server import Hub, create_app

    hub_kwargs = {
        k: overrides.pop(k) for k in ("clock", "new_id", "registry", "store") if k in overrides
    }
    hub = Hub(hub_config(data_dir, **overrides), **hub_kwargs)
    hub.bootstrap_admin()
    with TestClient(create_app(hub), raise_server_exceptions=True) as client:
        client.headers["X-API-Key"] = ADMIN_KEY
        yield hub, client


class HubProcess:
    """``stacklens serve`` in a child process on 127.0.0.1, with the test admin key."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        #: OTLP/gRPC, on a free port of its own (never the default 4317: test hubs run
        #: side by side); ``env`` may set STACKLENS_OTLP_GRPC_PORT (``"0"``: off).
        self.grpc_port = int((env or {}).get("STACKLENS_OTLP_GRPC_PORT") or free_port())
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self.admin_key = ADMIN_KEY
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"hub-{self.port}.log"

    def start(self, timeout: float = 30.0) -> HubProcess:
        env = {
            **os.environ,
            "STACKLENS_BOOTSTRAP_ADMIN_KEY": self.admin_key,
            "STACKLENS_SECRET_KEY": "test-secret-key",
            "STACKLENS_LOADER_INTERVAL_S": "0.05",
            "STACKLENS_OTLP_GRPC_PORT": str(self.grpc_port),
            **{f"STACKLENS_{name.upper()}": value for name, value in LONG_RETENTION.items()},
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stacklens.cli",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"hub exited with {self.process.returncode}: "
                    f"{self.log_path.read_text()[-2000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ready", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.05)
        self.kill()
        raise TimeoutError(f"hub not ready within {timeout}s: {self.log_path.read_text()[-2000:]}")

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"X-API-Key": key or self.admin_key}, timeout=30.0
        )

    def kill(self) -> None:
        """SIGKILL: no drain, no cleanup — what a crash looks like."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM: a graceful shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
