"""The OpenCode plugin (clients/opencode) in the real OpenCode (``opencode-ai`` from npm,
headless ``opencode run``), beside oh-my-opencode, against a real hub. No real model can
be reached from here, so a scripted OpenAI-compatible server plays the model: a title, a
``bash ls`` tool call, a final answer. OpenCode really runs ``ls``.

Then the outage path: with the hub unreachable the events go to the JSONL spill file;
once the hub answers they are replayed, and a second replay adds nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stacklens.testing import HubProcess, free_port, wait_until
from stacklens.testing.model_server import ScriptedModelServer

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "clients" / "opencode"
OPENCODE_DIR = Path(__file__).parent / "opencode"
OPENCODE = OPENCODE_DIR / "node_modules" / ".bin" / "opencode"
OH_MY_OPENCODE = OPENCODE_DIR / "node_modules" / "oh-my-opencode" / "dist" / "index.js"
STACK = "opencode-e2e"
pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def plugin_entry() -> Path:
    assert OPENCODE.exists(), "run make test: it installs opencode-ai (tests/clients/opencode)"
    entry = PLUGIN / "dist" / "index.js"
    assert entry.exists(), "run make test: it builds clients/opencode (npm ci && npm run build)"
    return entry


def run_opencode(
    project: Path, plugin: Path, model: ScriptedModelServer, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    project.mkdir(parents=True, exist_ok=True)
    config = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "scripted": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Scripted",
                "options": {"baseURL": model.url, "apiKey": "test"},
                "models": {"scripted-model": {"name": "Scripted", "tool_call": True}},
            }
        },
        "model": "scripted/scripted-model",
        "permission": {"bash": "allow", "edit": "allow"},
        "plugin": [plugin.as_uri(), OH_MY_OPENCODE.as_uri()],
    }
    (project / "opencode.json").write_text(json.dumps(config))
    (project / "README.txt").write_text("a file for ls to find\n")
    home = project.parent / "opencode-home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [str(OPENCODE), "run", "--model", "scripted/scripted-model", "list the files here"],
        cwd=project,
        # OpenCode takes its directory from PWD, which cwd= alone does not change.
        env={**os.environ, "PWD": str(project), "HOME": str(home), "STACK_NAME": STACK, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def stored(hub: HubProcess, count: int) -> list[dict[str, Any]]:
    with hub.client() as client:

        def fetch() -> list[dict[str, Any]] | None:
            events: list[dict[str, Any]] = client.get(
                "/api/v1/events", params={"stack": STACK, "limit": 1000, "since": "1h"}
            ).json()["events"]
            return events if len(events) >= count else None

        found: list[dict[str, Any]] = wait_until(fetch, timeout=30, interval=0.2)
        return found


def test_an_opencode_session_reaches_the_hub(tmp_path: Path, plugin_entry: Path) -> None:
    with HubProcess(tmp_path / "data") as hub, ScriptedModelServer() as model:
        spill = tmp_path / "spill.jsonl"
        run = run_opencode(
            tmp_path / "project",
            plugin_entry,
            model,
            {"STACKLENS_URL": hub.url, "STACKLENS_API_KEY": hub.admin_key,
             "STACKLENS_SPOOL_FILE": str(spill)},
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert len(model.requests) == 3
        # OpenCode really ran the tool: its output went back to the model.
        tool_results = [m for m in model.requests[2]["messages"] if m.get("role") == "tool"]
        assert "README.txt" in json.dumps(tool_results)
        events = stored(hub, 7)
    # The events API answers flat rows: the data fields beside the envelope's.
    kinds = [e["event_type"] for e in events]
    assert kinds.count("session_start") == 1
    messages = [e for e in events if e["event_type"] == "message"]
    roles = sorted(m["role"] for m in messages)
    assert roles == ["assistant", "assistant", "user"]
    assistant = [m for m in messages if m["role"] == "assistant"]
    assert all(m["tokens_in"] == 1200 and m["tokens_out"] == 80 for m in assistant)
    assert all(m["model"] == "scripted-model" for m in messages)
    # Content is a hash, a length and a word count; the prompt itself never left.
    user = next(m for m in messages if m["role"] == "user")
    assert user["content_length"] >= len("list the files here")  # as OpenCode sent it
    assert len(user["content_hash"]) == 64
    assert user["word_count"] == 4
    assert "list the files here" not in json.dumps(events)
    llm = [e for e in events if e["event_type"] == "llm_call"]
    assert len(llm) == 2 and all(e["tokens_in"] == 1200 for e in llm)
    (tool,) = [e for e in events if e["event_type"] == "tool_use"]
    assert tool["tool"] == "bash" and tool["success"] is True
    assert tool["duration_ms"] > 0
    assert tool["command"] == "ls"
    assert kinds.count("session_end") == 1  # the session went idle once
    assert not spill.exists()  # everything was delivered, nothing spilled


def test_an_unreachable_hub_spills_and_the_replay_adds_each_event_once(
    tmp_path: Path, plugin_entry: Path
) -> None:
    spill = tmp_path / "spill.jsonl"
    dead = f"http://127.0.0.1:{free_port()}"
    with ScriptedModelServer() as model:
        run = run_opencode(
            tmp_path / "project",
            plugin_entry,
            model,
            {
                "STACKLENS_URL": dead,
                "STACKLENS_API_KEY": "slk_unused",
                "STACKLENS_SPOOL_FILE": str(spill),
            },
        )
    # OpenCode was not held up by the dead hub, and kept everything on disk.
    assert run.returncode == 0, run.stdout + run.stderr
    spilled = [json.loads(line) for line in spill.read_text().splitlines()]
    assert len(spilled) >= 7
    assert len({e["event_id"] for e in spilled}) == len(spilled)

    node = shutil.which("node")
    assert node
    replay = (
        "import { Sender } from " + json.dumps((PLUGIN / "dist" / "sender.js").as_uri()) + ";"
        "const [url, key, file] = process.argv.slice(1);"
        "const s = new Sender({url, apiKey: key, stackName: 'unused', spillFile: file});"
        "await s.flush(); console.log(JSON.stringify(s.stats));"
    )
    with HubProcess(tmp_path / "data") as hub:
        for _ in range(2):  # the second replay finds nothing left to send
            # Put a copy back for the second round: a replay of what the hub already
            # stored (as after a crash between post and truncate) must not duplicate.
            if not spill.exists():
                spill.write_text("".join(json.dumps(e) + "\n" for e in spilled))
            done = subprocess.run(
                [node, "--input-type=module", "-e", replay, hub.url, hub.admin_key, str(spill)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["replayed"] == len(spilled)
            assert not spill.exists()
        events = stored(hub, len(spilled))
        assert sorted(e["event_id"] for e in events) == sorted(e["event_id"] for e in spilled)


def test_the_package_packs_with_its_built_plugin(plugin_entry: Path) -> None:
    npm = shutil.which("npm")
    assert npm
    packed = subprocess.run(
        [npm, "pack", "--dry-run", "--json", "--ignore-scripts"],
        cwd=PLUGIN,
        capture_output=True,
        text=True,
        check=True,
    )
    files = {f["path"] for f in json.loads(packed.stdout)[0]["files"]}
    assert {"package.json", "dist/index.js", "dist/sender.js", "src/index.ts"} <= files
