"""Helpers for tests that run real LLM-analytics clients (Langfuse, LangSmith) against a
hub: a hub process with keys bound to stacks made before it starts, its events read
back, and a Node client runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacklens.testing import HubProcess, wait_until

__all__ = ["ClientHub", "bound_key", "client_hub", "events_of", "run_node_client"]


@dataclass
class ClientHub:
    """A running hub and an ingest key bound to each of its test stacks."""

    process: HubProcess
    keys: dict[str, str]


@contextmanager
def client_hub(data_dir: Path, stacks: tuple[str, ...]) -> Iterator[ClientHub]:
    """A hub process on ``data_dir`` with a bound ingest key for each of ``stacks``."""
    keys = {stack: bound_key(data_dir, stack) for stack in stacks}
    with HubProcess(data_dir) as running:
        yield ClientHub(running, keys)


def events_of(hub: HubProcess, stack: str, count: int) -> list[dict[str, Any]]:
    """``stack``'s events through the API, once at least ``count`` are visible."""
    with hub.client() as client:

        def fetch() -> list[dict[str, Any]] | None:
            found = client.get("/api/v1/events", params={"stack": stack, "limit": 100}).json()
            return found["events"] if len(found["events"]) >= count else None

        found: list[dict[str, Any]] = wait_until(fetch, timeout=20)
        return found


def bound_key(data_dir: Path, stack: str, role: str = "ingest") -> str:
    """A new key of ``role`` bound to ``stack``, in ``data_dir``'s metadata database
    (create it before the hub starts)."""
    from stacklens.metadata import KeyRing, MetadataDB

    data_dir.mkdir(parents=True, exist_ok=True)
    _, key = KeyRing(MetadataDB.in_data_dir(data_dir)).create(role, stack=stack)
    return key


def run_node_client(
    client_dir: Path, env: dict[str, str], *args: Any, script: str = "send.js"
) -> dict[str, Any]:
    """Run ``script`` in ``client_dir`` (installed by ``make test``); its JSON line back."""
    node = shutil.which("node")
    assert node, "node is required (installed by make test)"
    assert (client_dir / "node_modules").exists(), f"run make test: it installs {client_dir.name}"
    done = subprocess.run(
        [node, script, *(a if isinstance(a, str) else json.dumps(a) for a in args)],
        cwd=client_dir,
        env={"PATH": os.environ.get("PATH", ""), **env},
        check=False,
        timeout=90,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
