"""Helpers for tests that run real LLM-analytics clients (Langfuse, LangSmith) against a
hub: keys bound to a stack made before the hub starts, and a Node client runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["bound_key", "run_node_client"]


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
