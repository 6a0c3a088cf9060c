"""``stacklens send``'s shipper: refusals name file line numbers, an unfinished last line
is said to be held back, and an unreachable hub is named and, without ``--follow``, given
up on after a bounded number of attempts with a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from stacklens.sdk.shipper import FileShipper, ShipError
from stacklens.testing import ADMIN_KEY, free_port, in_process_hub


def _line(n: int, **extra: object) -> str:
    event = {"timestamp": time.time_ns(), "stack_name": "ship", "event_type": "heartbeat"}
    return json.dumps({**event, "event_id": f"ship-{n}", **extra})


def test_refused_lines_are_named_by_their_line_in_the_file(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    lines = [_line(1), "", _line(3), _line(4, event_type="nope"), _line(5)]
    log.write_text("\n".join(lines) + "\n")
    messages: list[str] = []
    with in_process_hub(tmp_path / "data") as (_, client):
        shipper = FileShipper(
            log, url=str(client.base_url), api_key=ADMIN_KEY, client=client,
            progress=messages.append, batch_lines=2,
        )  # fmt: skip
        assert shipper.ship_available() == 4
        # Later batches keep counting lines from where the earlier ones stopped.
        log.write_text(log.read_text() + _line(6, timestamp="yesterday") + "\n")
        shipper.ship_available()
    refusals = [m for m in messages if "rejected" not in m and not m.startswith("sent")]
    assert refusals and refusals[0].startswith("line 4: "), messages
    assert any(m.startswith("line 6: ") for m in refusals), messages
    assert shipper.sent == 3 and shipper.rejected == 2


def test_an_unfinished_last_line_is_held_back_and_said_once(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(_line(1) + "\n" + _line(2) + "\n" + _line(3)[:20])
    messages: list[str] = []
    with in_process_hub(tmp_path / "data") as (_, client):
        shipper = FileShipper(
            log, url=str(client.base_url), api_key=ADMIN_KEY, client=client,
            progress=messages.append,
        )  # fmt: skip
        assert shipper.ship_available() == 2
        assert shipper.ship_available() == 0
        held = [m for m in messages if "held back" in m]
        assert held == ["line 3 has no newline yet: held back until it is complete"]
        log.write_text(log.read_text()[:-20] + _line(3) + "\n")
        assert shipper.ship_available() == 1


def test_an_unreachable_hub_is_named_and_given_up_on(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(_line(1) + "\n")
    url = f"http://127.0.0.1:{free_port()}"
    messages: list[str] = []
    shipper = FileShipper(
        log, url=url, api_key=ADMIN_KEY, progress=messages.append, sleep=lambda _: None,
        max_attempts=3, client=httpx.Client(timeout=2),
    )  # fmt: skip
    with pytest.raises(
        ShipError, match=r"gave up after 3 attempts: the hub at .*unreachable"
    ) as err:
        shipper.ship_available()
    assert url in str(err.value)
    assert all(url in m for m in messages) and len(messages) == 2
    assert shipper.load_positions().offset == 0  # nothing was marked as sent


def test_send_without_follow_exits_non_zero_naming_the_url(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(_line(1) + "\n")
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "stacklens.cli", "send", str(log), "--url", url,
         "--key", ADMIN_KEY, "--attempts", "2"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"gave up after 2 attempts: the hub at {url}/v1/events is unreachable" in done.stderr
