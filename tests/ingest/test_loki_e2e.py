"""A real Loki client (winston-loki, Node) pushing protobuf+snappy and JSON to a real
hub on loopback; plus the Loki-style refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cramjam
import httpx
import pytest

from stacklens.ingest.loki.proto import PushRequest
from stacklens.testing import HubProcess, wait_until

CLIENT_DIR = Path(__file__).parent / "loki" / "winston"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with HubProcess(tmp_path_factory.mktemp("loki") / "data") as running:
        yield running


def push_with_winston(hub: HubProcess, mode: str, lines: list[dict[str, Any]]) -> None:
    node = shutil.which("node")
    assert node, "node is required (installed by make test)"
    assert (CLIENT_DIR / "node_modules" / "winston-loki").exists(), (
        "run make test: it installs winston-loki"
    )
    subprocess.run(
        [node, "push.js", hub.url, hub.admin_key, mode, json.dumps(lines)],
        cwd=CLIENT_DIR,
        check=True,
        timeout=60,
        capture_output=True,
    )


def logs_of(hub: HubProcess, count: int, **params: Any) -> list[dict[str, Any]]:
    with hub.client() as client:

        def fetch() -> list[dict[str, Any]] | None:
            found = client.get(
                "/api/v1/events", params={"event_type": "log", "limit": 1000, **params}
            ).json()["events"]
            return found if len(found) >= count else None

        return wait_until(fetch, timeout=15)


@pytest.mark.parametrize("mode", ["protobuf", "json"])
def test_winston_loki_lines_land_with_labels(hub: HubProcess, mode: str) -> None:
    marker = f"{mode}-{time.time_ns()}"
    lines = [
        {"level": "info", "message": f"request served {marker}"},
        {"level": "error", "message": f"upstream failed {marker}", "labels": {"user_id": "bob"}},
    ]
    push_with_winston(hub, mode, lines)
    wait_until(
        lambda: (
            len([e for e in logs_of(hub, 1, stack="winston-stack") if marker in e["message"]]) == 2
        )
    )
    stored = [e for e in logs_of(hub, 2, stack="winston-stack") if marker in e["message"]]
    by_level = {e["level"]: e for e in stored}
    # winston-loki appends the entry's metadata as JSON to the line; the hub keeps the line as sent.
    for line in lines:
        assert by_level[line["level"]]["message"].startswith(line["message"])
    assert set(by_level) == {"info", "error"}
    assert all(e["stack_name"] == "winston-stack" and e["service"] == "chat-api" for e in stored)
    assert by_level["error"]["user_id"].startswith("u_")  # label lifted, then pseudonymized
    assert by_level["info"]["attributes"]["app"] == "chat"


def test_out_of_window_and_oversized_entries_refused_like_loki(hub: HubProcess) -> None:
    now = time.time_ns()
    request = PushRequest()
    stream = request.streams.add()
    stream.labels = b'{service_name="edge", level="warn"}'
    for ts, line in (
        (now, "fresh line"),
        (now - 8 * 86400 * 10**9, "a week too old"),
        (now + 3600 * 10**9, "an hour ahead"),
        (now, "x" * (300 * 1024)),
    ):
        entry = stream.entries.add()
        entry.timestamp.seconds, entry.timestamp.nanos = divmod(ts, 10**9)
        entry.line = line.encode()  # the descriptor declares Loki's strings as bytes
    body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    response = httpx.post(
        f"{hub.url}/loki/api/v1/push",
        content=body,
        headers={
            "Content-Type": "application/x-protobuf",
            "X-Scope-OrgID": "edge-stack",
            "X-API-Key": hub.admin_key,
        },
    )
    assert response.status_code == 400
    text = response.text
    assert "1 entries stored" in text and "3 refused" in text
    assert "timestamp too old" in text and "timestamp too new" in text and "longer than" in text
    [stored] = logs_of(hub, 1, stack="edge-stack")
    assert stored["message"] == "fresh line" and stored["level"] == "warn"


def test_loki_push_answers_204_and_needs_a_key(hub: HubProcess) -> None:
    body = {"streams": [{"stream": {"service": "x"}, "values": [[str(time.time_ns()), "ok"]]}]}
    ok = httpx.post(
        f"{hub.url}/loki/api/v1/push",
        json=body,
        headers={"X-API-Key": hub.admin_key, "X-Scope-OrgID": "json-loki"},
    )
    assert ok.status_code == 204
    assert httpx.post(f"{hub.url}/loki/api/v1/push", json=body).status_code == 401
    garbage = httpx.post(
        f"{hub.url}/loki/api/v1/push",
        content=b"\xff\x00garbage",
        headers={"X-API-Key": hub.admin_key, "Content-Type": "application/x-protobuf"},
    )
    assert garbage.status_code == 400
