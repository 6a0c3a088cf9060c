"""Hubs on a PostgreSQL metadata database: a bad URL stops ``stacklens serve`` with one
line, two hub processes share keys and stacks, and backup refuses with a pointer to
pg_dump instead of a server error."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import msgspec
import pytest

from stacklens.testing import ADMIN_KEY, HubProcess, in_process_hub, wait_until
from stacklens.testing.postgres import PostgresServer

pytestmark = [pytest.mark.slow]


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stacklens.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://u:secret@127.0.0.1:1/x",
            "metadata database postgresql+psycopg://u:***@127.0.0.1:1/x is unreachable",
        ),
        ("postgresql+psycopg//u:secret@h/x", "is not a database URL"),
    ],
)
def test_serve_with_an_unusable_metadata_url_says_one_line(
    tmp_path: Path, url: str, shown: str
) -> None:
    result = cli(
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        "1",
        env={"STACKLENS_METADATA_URL": url, "STACKLENS_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY},
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert len(output.splitlines()) == 1, output
    assert shown in output and "STACKLENS_METADATA_URL" in output
    assert "secret" not in output and "Traceback" not in output


def test_keys_create_with_an_unreachable_metadata_url_says_one_line(tmp_path: Path) -> None:
    result = cli(
        "keys",
        "create",
        "--role",
        "read",
        "--data-dir",
        str(tmp_path),
        env={"STACKLENS_METADATA_URL": "postgresql+psycopg://u:secret@127.0.0.1:1/x"},
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert "u:***@127.0.0.1:1/x" in result.stderr and "secret" not in result.stderr


def _event(n: int) -> bytes:
    return msgspec.json.encode(
        {
            "event_id": f"pg-e2e-{n}",
            "timestamp": "2026-01-10T12:00:00Z",
            "stack_name": "shared-stack",
            "event_type": "llm_call",
            "data": {"model": "gpt-4o-mini", "tokens_in": n},
        }
    )


def _send(hub: HubProcess, key: str, n: int) -> int:
    answer = httpx.post(
        f"{hub.url}/v1/events",
        content=_event(n),
        headers={"X-API-Key": key, "Content-Type": "application/x-ndjson"},
        timeout=30,
    )
    return answer.status_code


def test_two_hub_processes_share_stacks_and_keys(tmp_path: Path, postgres_url: str) -> None:
    env = {"STACKLENS_METADATA_URL": postgres_url}
    first = HubProcess(tmp_path / "data-a", env=env)
    second = HubProcess(tmp_path / "data-b", env=env)
    # Started at once on an empty database: both migrate-or-wait and both adopt the
    # same bootstrap admin key without a conflict.
    failures: list[BaseException] = []

    def start(hub: HubProcess) -> None:
        try:
            hub.start(timeout=60)
        except BaseException as exc:
            failures.append(exc)

    starters = [threading.Thread(target=start, args=(hub,)) for hub in (first, second)]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(timeout=90)
    try:
        assert failures == []
        for hub in (first, second):
            assert httpx.get(f"{hub.url}/ready", timeout=5).status_code == 200
        # A stack and its ingest key, made by the CLI against the first hub's data dir
        # (the CLI writes the metadata database directly).
        made = cli(
            "stacks", "create", "shared-stack", "--data-dir", str(first.data_dir), env=env
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        ingest_key = made.stdout.strip().splitlines()[-1]
        assert _send(first, ingest_key, 1) == 200
        assert _send(second, ingest_key, 2) == 200  # the other replica knows the key
        assert _send(second, "slk_" + "n" * 43, 3) == 401
        # Both hubs load what each accepted: the stack's events are on both stores.
        for hub, n in ((first, 1), (second, 2)):
            with hub.client() as client:
                wait_until(
                    lambda c=client, n=n: (
                        [
                            e["tokens_in"]
                            for e in c.get(
                                "/api/v1/events", params={"stack": "shared-stack"}
                            ).json()["events"]
                        ]
                        == [n]
                    ),
                    timeout=10,
                )
        listed = cli("stacks", "list", "--data-dir", str(second.data_dir), env=env)
        assert listed.stdout.split() == ["shared-stack"]
        # Revoked (CLI, on the shared database): refused by both.
        key_id = next(
            line.split()[0]
            for line in cli("keys", "list", env=env).stdout.splitlines()
            if "stack shared-stack" in line
        )
        assert cli("keys", "revoke", key_id, env=env).returncode == 0
        started = time.monotonic()
        wait_until(lambda: _send(first, ingest_key, 4) == 401, timeout=5)
        wait_until(lambda: _send(second, ingest_key, 5) == 401, timeout=5)
        assert time.monotonic() - started < 5
    finally:
        first.stop()
        second.stop()


def test_backup_refuses_a_postgresql_metadata_database_with_409(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str
) -> None:
    with in_process_hub(tmp_path / "data", metadata_url=postgres_url) as (_, client):
        answer = client.post("/api/v1/backup")
        assert answer.status_code == 409
        detail = answer.json()["error"]
        assert "pg_dump" in detail and "\n" not in detail
        assert postgres_server.password not in detail
        # Nothing half-written is left behind.
        backups = tmp_path / "data" / "backups"
        assert not backups.exists() or list(backups.iterdir()) == []


def test_backup_cli_on_a_postgresql_metadata_hub_says_one_line(
    tmp_path: Path, postgres_url: str
) -> None:
    with HubProcess(tmp_path / "data", env={"STACKLENS_METADATA_URL": postgres_url}) as hub:
        result = cli("backup", "--url", hub.url, "--api-key", ADMIN_KEY, env={})
    assert result.returncode != 0 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "answered 409" in line and "pg_dump" in line
    assert "{" not in line  # the reason, not the JSON body


def test_requests_answer_503_while_postgresql_is_down(tmp_path: Path) -> None:
    # A server of its own: this test stops it under a running hub.
    with PostgresServer() as server:
        url = server.url(server.create_database("down"))
        with in_process_hub(tmp_path / "data", metadata_url=url) as (_, client):
            assert client.get("/api/v1/silences").status_code == 200
            server.stop()
            answer = client.get("/api/v1/silences")
            assert answer.status_code == 503
            assert answer.headers["Retry-After"] == "5"
            assert "metadata database is unavailable" in answer.json()["error"]
            health = client.get("/health")
            assert health.status_code == 503 and health.json()["failing"] == ["metadata"]
            assert server.password not in health.text
