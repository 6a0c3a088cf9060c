from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import duckdb
from click.testing import CliRunner

from stacklens.cli import main
from stacklens.metadata import KeyRing, MetadataDB
from stacklens.sdk.shipper import FileShipper
from stacklens.testing import HubProcess, wait_until


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_keys_create_prints_key_last_and_it_authenticates(tmp_path: Path) -> None:
    result = run(
        "keys", "create", "--role", "read", "--stack", "john-dev", "--data-dir", str(tmp_path)
    )
    assert result.exit_code == 0
    key = result.stdout.strip().splitlines()[-1]
    principal = KeyRing(MetadataDB.in_data_dir(tmp_path)).authenticate(key)
    assert principal is not None and principal.role == "read" and principal.stack == "john-dev"
    listing = run("keys", "list", "--data-dir", str(tmp_path)).stdout
    assert "john-dev" in listing and key not in listing
    key_id = listing.splitlines()[1].split()[0]
    assert run("keys", "revoke", key_id, "--data-dir", str(tmp_path)).exit_code == 0
    assert KeyRing(MetadataDB.in_data_dir(tmp_path)).authenticate(key) is None


def test_stacks_create_print_env(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("STACKLENS_PUBLIC_URL", "https://logs.ai.example.nl")
    result = run("stacks", "create", "john-dev", "--print-env", "--data-dir", str(tmp_path))
    assert result.exit_code == 0
    env = dict(line.split("=", 1) for line in result.stdout.strip().splitlines())
    assert env["STACK_NAME"] == "john-dev"
    assert env["STACKLENS_URL"] == "https://logs.ai.example.nl"
    principal = KeyRing(MetadataDB.in_data_dir(tmp_path)).authenticate(env["STACKLENS_API_KEY"])
    assert principal is not None and principal.role == "ingest" and principal.stack == "john-dev"
    assert run("stacks", "list", "--data-dir", str(tmp_path)).stdout.split() == ["john-dev"]
    assert run("stacks", "create", "Bad Name", "--data-dir", str(tmp_path)).exit_code == 2


def test_schema_command_prints_json_schema() -> None:
    schema = json.loads(run("schema").stdout)
    assert "llm_call" in schema["$defs"]["Event"]["properties"]["event_type"]["enum"]


def _line(i: int) -> str:
    return json.dumps(
        {
            "timestamp": "2026-01-10T12:00:00Z",
            "event_type": "log",
            "stack_name": "tail",
            "message": f"line {i}",
        }
    )


def test_send_follow_survives_restart_without_skip_or_repeat(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(
        "".join(_line(i) + "\n" for i in range(50)) + _line(50)[:20]
    )  # last line half-written
    with HubProcess(tmp_path / "data") as hub:
        first = FileShipper(log, url=hub.url, api_key=hub.admin_key, batch_lines=7)
        assert first.ship_available() == 50  # the half line waits
        with log.open("a") as handle:  # the writer finishes the line and adds more
            handle.write(_line(50)[20:] + "\n" + "".join(_line(i) + "\n" for i in range(51, 80)))
        # A new shipper process (a restart) picks up from the positions file, tailing.
        stop = threading.Event()
        second = FileShipper(log, url=hub.url, api_key=hub.admin_key, batch_lines=7)
        follower = threading.Thread(
            target=second.follow, kwargs={"poll_s": 0.05, "stop": stop.is_set}
        )
        follower.start()
        wait_until(lambda: second.sent == 30, timeout=20)
        with log.open("a") as handle:
            handle.write(_line(80) + "\n")
        wait_until(lambda: second.sent == 31, timeout=20)
        stop.set()
        follower.join()
        # A third run after everything was shipped sends nothing again.
        assert FileShipper(log, url=hub.url, api_key=hub.admin_key).ship_available() == 0
    con = duckdb.connect(str(tmp_path / "data" / "events.duckdb"), read_only=True)
    messages = [m for (m,) in con.execute("SELECT message FROM events ORDER BY message").fetchall()]
    assert sorted(messages) == sorted(f"line {i}" for i in range(81))


def test_send_resends_after_crash_between_ack_and_positions_without_duplicates(
    tmp_path: Path,
) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("".join(_line(i) + "\n" for i in range(10)))
    with HubProcess(tmp_path / "data") as hub:
        FileShipper(log, url=hub.url, api_key=hub.admin_key).ship_available()
        (tmp_path / "events.jsonl.positions").unlink()  # as if the positions write was lost
        FileShipper(log, url=hub.url, api_key=hub.admin_key).ship_available()
    con = duckdb.connect(str(tmp_path / "data" / "events.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone() == (
        10,
        10,
    )


def test_demo_and_send_commands_end_to_end(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "data") as hub:
        env_args = ["--url", hub.url, "--key", hub.admin_key]
        demo = subprocess.run(
            [
                sys.executable,
                "-m",
                "stacklens.cli",
                "demo",
                "--events",
                "300",
                "--seed",
                "1",
                *env_args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert demo.returncode == 0, demo.stderr
        assert "300 events" in demo.stdout
        with hub.client() as client:

            def stacks() -> set[str] | None:
                events = client.get("/api/v1/events", params={"limit": 1000}).json()["events"]
                return {e["stack_name"] for e in events} if len(events) == 300 else None

            assert len(wait_until(stacks, timeout=15)) >= 2
        log = tmp_path / "x.jsonl"
        log.write_text(_line(1) + "\n" + "{broken\n")
        sent = subprocess.run(
            [sys.executable, "-m", "stacklens.cli", "send", str(log), *env_args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0 and "1 events accepted, 1 rejected" in sent.stderr


def test_privacy_check_names_rules_and_paths_never_values(tmp_path: Path) -> None:
    from stacklens.testing.secrets import GITHUB_PAT_CLASSIC, SECRETS, secret_events

    log = tmp_path / "events.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in secret_events()) + "\n")
    result = run("privacy", "check", str(log))
    assert result.exit_code == 0
    assert "github" in result.stdout.lower()
    assert GITHUB_PAT_CLASSIC not in result.stdout
    assert not any(secret in result.stdout for secret in SECRETS)
