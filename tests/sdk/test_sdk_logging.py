"""Log lines against the seed 004 standard, the seed 003 API, and the secret corpus."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from typing import Any

import pytest
import structlog

from stacklens.sdk import (
    context_scope,
    get_structured_logger,
    set_trace_context,
    setup_structured_logging,
)
from stacklens.sdk.logging import REQUIRED_FIELDS, reset_structured_logging
from stacklens.testing.secrets import INNOCUOUS, SECRETS, encoded_forms, secret_events

LogCapture = Any  # tests/sdk/conftest.py:LogCapture (conftest is not importable)

ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
LEVELS = {"debug", "info", "warning", "error", "critical"}


def check_seed_004(line: str) -> dict[str, Any]:
    """One line, one JSON object, with the required fields typed as the standard says."""
    assert "\n" not in line
    record = json.loads(line)
    assert isinstance(record, dict)
    for name in REQUIRED_FIELDS:
        assert isinstance(record.get(name), str), f"{name} missing or not a string: {line}"
    assert ISO_UTC.fullmatch(record["timestamp"]), record["timestamp"]
    parsed = dt.datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    assert parsed.utcoffset() == dt.timedelta(0)
    assert record["level"] in LEVELS
    for key in record:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key), f"key {key!r} is not snake_case"
    return record


def test_required_and_context_fields(logs: LogCapture) -> None:
    log = get_structured_logger("app.api")
    set_trace_context("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    with context_scope(user_id="user123", session_id="sess-1"):
        log.info("request processed", method="POST", endpoint="/v1/chat")
    log.warning("after the scope")
    first, second = (check_seed_004(line) for line in logs.lines())
    assert first["message"] == "request processed"
    assert first["service"] == "svc"
    assert first["level"] == "info"
    assert first["logger"] == "app.api"
    assert first["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert first["span_id"] == "00f067aa0ba902b7"
    assert first["user_id"] == "user123"
    assert first["session_id"] == "sess-1"
    assert first["method"] == "POST"
    assert list(first)[:4] == ["timestamp", "level", "service", "message"]
    assert second["level"] == "warning"
    assert "user_id" not in second  # the scope ended
    assert second["trace_id"] == first["trace_id"]


def test_seed_003_helpers(logs: LogCapture) -> None:
    log = get_structured_logger(__name__)
    log.log_request("POST", "/v1/chat", 200, 125.5, user_id="user123", request_id="req456")
    log.log_request("GET", "/boom", 503, 3.0)
    log.log_inference("llama-3.3-8b", 250.5, batch_size=4)
    log.log_mcp_operation("github", "search", 50.0, status="success")
    log.log_drift("llama-3.3-8b", 0.18, 0.15)
    log.log_drift("llama-3.3-8b", 0.05, 0.15)
    request, failed, inference, mcp, drift, calm = (check_seed_004(x) for x in logs.lines())
    assert request["status_code"] == 200
    assert request["duration_ms"] == 125.5
    assert request["user_id"] == "user123"
    assert failed["level"] == "error"
    assert inference["inference_time_ms"] == 250.5
    assert inference["model"] == "llama-3.3-8b"
    assert inference["batch_size"] == 4
    assert (mcp["mcp_server"], mcp["mcp_operation"]) == ("github", "search")
    assert mcp["status"] == "success"
    assert drift["level"] == "warning"
    assert drift["drift_detected"] is True
    assert calm["level"] == "info"


def test_exception_sets_error(logs: LogCapture) -> None:
    log = get_structured_logger("x")
    try:
        raise RuntimeError("model server went away")
    except RuntimeError:
        log.exception("inference failed")
    record = check_seed_004(logs.lines()[0])
    assert record["level"] == "error"
    assert record["error"] == "RuntimeError: model server went away"
    assert "Traceback" in record["exception"]


def test_stdlib_logging_is_routed(logs: LogCapture) -> None:
    set_trace_context("abc123")
    logging.getLogger("some.library").warning("disk at %d%%", 91)
    logging.getLogger("some.library").debug("detail")
    warning, debug = (check_seed_004(line) for line in logs.lines())
    assert warning["message"] == "disk at 91%"
    assert warning["logger"] == "some.library"
    assert warning["level"] == "warning"
    assert warning["trace_id"] == "abc123"
    assert debug["level"] == "debug"


def test_plain_structlog_loggers_share_the_format(logs: LogCapture) -> None:
    structlog.get_logger("direct").info("via structlog", answer=42)
    record = check_seed_004(logs.lines()[0])
    assert record["answer"] == 42
    assert record["service"] == "svc"


def test_level_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    stream = io.StringIO()
    setup_structured_logging("svc", stream=stream)
    try:
        log = get_structured_logger("x")
        log.info("hidden")
        log.warning("shown")
        logging.getLogger("lib").info("hidden too")
        lines = stream.getvalue().splitlines()
        assert [json.loads(line)["message"] for line in lines] == ["shown"]
    finally:
        reset_structured_logging()


def test_injected_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    setup_structured_logging(
        "svc", "info", stream=stream, clock_ns=lambda: 1_767_225_600_123_456_000
    )
    try:
        get_structured_logger("x").info("tick")
        assert json.loads(stream.getvalue())["timestamp"] == "2026-01-01T00:00:00.123456Z"
    finally:
        reset_structured_logging()


def test_loggers_follow_reconfiguration() -> None:
    log = get_structured_logger("x")
    first, second = io.StringIO(), io.StringIO()
    try:
        setup_structured_logging("one", "info", stream=first)
        log.info("a")
        setup_structured_logging("two", "info", stream=second)
        log.info("b")
    finally:
        reset_structured_logging()
    assert json.loads(first.getvalue())["service"] == "one"
    assert json.loads(second.getvalue())["service"] == "two"


def _leaks(text: str) -> list[str]:
    bad = []
    for secret in SECRETS:
        if any(form.decode("latin-1") in text for form in encoded_forms(secret)):
            bad.append(secret[:12])
    return bad


def test_no_planted_secret_reaches_a_log_line(logs: LogCapture) -> None:
    log = get_structured_logger("leaky")
    std = logging.getLogger("leaky.stdlib")
    for event in secret_events():
        # As the message, as keyword arguments (nested too), and through stdlib logging.
        log.info(
            event.get("message") or "event",
            data=event.get("data"),
            attributes=event.get("attributes"),
            session=event.get("session_id"),
        )
        log.warning("flat", **dict((event.get("data") or {}).items()))
        if event.get("message"):
            std.error("stdlib says %s", event["message"])
    # Secrets only a key name or its context reveals (a bare random password is
    # indistinguishable from an id) are logged the way they leak in practice.
    for secret in SECRETS:
        log.info("kwarg", token=secret, password=secret, headers={"Authorization": secret})
        try:
            raise ValueError(f"login failed with password={secret}")
        except ValueError:
            log.exception("failed")
    lines = logs.lines()
    assert len(lines) > 3 * len(SECRETS)
    for line in lines:
        check_seed_004(line)
    assert _leaks(logs.stream.getvalue()) == []


def test_innocuous_values_pass_unchanged(logs: LogCapture) -> None:
    log = get_structured_logger("x")
    for value in INNOCUOUS:
        log.info("value", value=value)
    values = [record["value"] for record in logs.records()]
    assert values == list(INNOCUOUS)
