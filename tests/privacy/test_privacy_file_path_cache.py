"""The redactor keeps the pattern of each clean file path it has seen: a repeated path
must give the same answer as the first time, and a path with a secret must be scrubbed
and reported on every event, never answered from memory."""

from __future__ import annotations

from typing import Any

from stacklens.privacy import Finding, Redactor, file_path_pattern

KEY = b"engine-test-key-0123456789abcdef"
SECRET = "ghp_" + "Ab3" * 12


def _event(path: str) -> dict[str, Any]:
    return {
        "event_id": "e1",
        "timestamp": 1_732_000_000_000_000_000,
        "stack_name": "demo",
        "event_type": "tool_call",
        "data": {"tool": "Read", "file_path": path},
        "attributes": {},
    }


def test_a_repeated_clean_path_gives_its_pattern_each_time() -> None:
    redactor = Redactor(KEY)
    path = "/home/alice/project/src/app.py"
    first = redactor.redact_event(_event(path))
    again = redactor.redact_event(_event(path))
    assert first.event["data"]["file_path"] == file_path_pattern(path)
    assert again.event["data"] == first.event["data"]
    assert again.findings == first.findings == []


def test_a_path_with_a_secret_is_scrubbed_and_reported_every_time() -> None:
    redactor = Redactor(KEY)
    path = f"/home/alice/.cache/{SECRET}/config.json"
    for _ in range(3):
        result = redactor.redact_event(_event(path))
        assert SECRET not in str(result.event)
        assert Finding("github", "data.file_path") in result.findings


def test_a_long_path_is_answered_the_same_without_being_kept() -> None:
    redactor = Redactor(KEY)
    path = "/srv/" + "/".join(f"dir{i}" for i in range(200)) + "/x.py"
    results = [redactor.redact_event(_event(path)).event["data"] for _ in range(2)]
    assert results[0] == results[1] == {"tool": "Read", "file_path": file_path_pattern(path)}
