"""``privacy check``: findings per line, never values."""

from __future__ import annotations

import json

from stacklens.privacy import Finding, Redactor, check_lines, format_report
from stacklens.testing.secrets import GITHUB_PAT_CLASSIC, JWT_HS256


def test_check_lines_and_report() -> None:
    lines = [
        json.dumps({"event_id": "a1", "event_type": "log", "message": f"key {GITHUB_PAT_CLASSIC}"}),
        "",
        json.dumps({"event_type": "log", "message": "all good"}),
        "not json",
        "[1, 2]",
        json.dumps({"eventId": "b2", "data": {"headers": {"Authorization": JWT_HS256}}}),
    ]
    reports = list(check_lines(lines, Redactor(b"k")))
    assert [r.line for r in reports] == [1, 3, 4, 5, 6]
    assert reports[0].findings == [Finding("github", "message")]
    assert reports[0].event_id == "a1"
    assert reports[1].findings == []
    assert reports[2].error == "not valid JSON"
    assert reports[3].error == "not a JSON object"
    assert reports[4].findings == [Finding("authorization", "data.headers.Authorization")]
    text = format_report(reports)
    assert GITHUB_PAT_CLASSIC not in text
    assert JWT_HS256 not in text
    assert "5 events checked, 2 with findings, 2 findings, 2 unreadable lines" in text
    assert "line 1 (a1): github at message" in text
    assert "authorization  1" in text


def test_report_of_clean_input() -> None:
    reports = list(check_lines([b'{"message": "hello"}\n'], Redactor(b"k")))
    assert format_report(reports) == (
        "1 events checked, 0 with findings, 0 findings, 0 unreadable lines"
    )
