"""The image's install steps (deploy/image/install.sh), run as the Dockerfile runs them:
a fresh venv, the sources the Dockerfile copies, nothing from the dev environment. The
venv must hold what a scale-out replica needs (psycopg for PostgreSQL metadata,
clickhouse-connect for a ClickHouse server) and not the embedded chDB, and the hub
installed there must reach both drivers: an unreachable server is one clear line
naming the URL, not "needs the ... extra"."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stacklens.testing import free_port

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
#: pip resolves and downloads the server extra's wheels (pyarrow, DuckDB, grpcio...).
INSTALL_TIMEOUT_S = 540
PASSWORD = "not-this-s3cret"


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("image")
    src = work / "src"
    src.mkdir()
    # What the Dockerfile's build stage copies, and only that.
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__"))
    venv = work / "venv"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    answer = subprocess.run(
        ["sh", str(ROOT / "deploy" / "image" / "install.sh"), str(venv), str(src)],
        capture_output=True,
        text=True,
        check=False,
        timeout=INSTALL_TIMEOUT_S,
        env=env,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    return venv


def run_in(
    venv: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "STACKLENS_"))}
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**clean, **(env or {})},
    )


@pytest.mark.timeout(INSTALL_TIMEOUT_S + 60)
def test_the_venv_holds_the_scale_out_drivers_and_not_chdb(image_venv: Path) -> None:
    probe = run_in(
        image_venv,
        "python",
        "-c",
        "import importlib.util, stacklens, psycopg, clickhouse_connect\n"
        "print(stacklens.__file__)\n"
        "print(psycopg.pq.version())\n"  # the bundled libpq loads
        "print(importlib.util.find_spec('chdb'))",
    )
    assert probe.returncode == 0, probe.stderr
    where, libpq, chdb = probe.stdout.split()
    # The installed copy, not this checkout's sources.
    assert Path(where).is_relative_to(image_venv)
    assert int(libpq) >= 100000
    assert chdb == "None"


@pytest.mark.timeout(INSTALL_TIMEOUT_S + 60)
def test_the_installed_hub_reaches_a_clickhouse_server_and_postgresql(
    image_venv: Path, tmp_path: Path
) -> None:
    closed = free_port()  # nothing listens there: the driver runs and is refused
    cases = {
        "STACKLENS_STORE_URL": (
            f"clickhouse://stacklens:{PASSWORD}@127.0.0.1:{closed}/stacklens",
            f"store URL clickhouse://stacklens:***@127.0.0.1:{closed}/stacklens: cannot open",
        ),
        "STACKLENS_METADATA_URL": (
            f"postgresql+psycopg://stacklens:{PASSWORD}@127.0.0.1:{closed}/stacklens",
            f"metadata database postgresql+psycopg://stacklens:***@127.0.0.1:{closed}/stacklens"
            " is unreachable",
        ),
    }
    for name, (url, expected) in cases.items():
        answer = run_in(
            image_venv,
            "stacklens",
            "serve",
            "--data-dir",
            str(tmp_path / name),
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
            env={name: url, "STACKLENS_OTLP_GRPC_PORT": "0"},
        )
        assert answer.returncode != 0
        lines = answer.stderr.strip().splitlines()
        assert len(lines) == 1, answer.stderr  # one line, no traceback
        assert expected in lines[0]
        assert "extra" not in lines[0]  # the driver is installed
        assert PASSWORD not in answer.stderr
