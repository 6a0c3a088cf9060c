"""Structured logging (seed 004 standard, seed 003 API) on structlog.

One JSON object per line with the required fields first::

    {"timestamp": "2026-01-01T12:00:00.000123Z", "level": "info", "service": "gateway",
     "message": "request", "logger": "app.api", "trace_id": "...", "method": "POST", ...}

- ``timestamp`` is ISO 8601 in UTC; ``level`` is the lowercase seed 004 name.
- ``trace_id``, ``span_id``, ``user_id``, ``session_id`` come from
  :mod:`stacklens.sdk.context` (an active OpenTelemetry span wins for the trace ids),
  ``error`` from an exception being logged.
- Every value other than the structural fields passes through
  :meth:`stacklens.privacy.Redactor.redact_value` (key-name rules and value detectors),
  after exceptions are formatted, so a secret in a message, a keyword argument or a
  traceback never reaches the output.
- stdlib ``logging`` records go through the same chain (a root handler with
  :class:`structlog.stdlib.ProcessorFormatter`), so library logs share the format.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final, TextIO

import msgspec
import structlog

from stacklens.sdk.context import current_context
from stacklens.sdk.hash_key import make_redactor
from stacklens.sdk.trace import otel_ids

if TYPE_CHECKING:
    from stacklens.privacy import Redactor

__all__ = [
    "REQUIRED_FIELDS",
    "StructuredLogger",
    "build_processors",
    "get_structured_logger",
    "reset_structured_logging",
    "setup_structured_logging",
]

#: Seed 004: every line has these.
REQUIRED_FIELDS: Final = ("timestamp", "level", "service", "message")
#: Fields the chain itself makes; they hold no user data, so redaction skips them.
_STRUCTURAL: Final = frozenset({"timestamp", "level", "service", "logger"})
_HANDLER_MARK: Final = "_stacklens_handler"

_encoder = msgspec.json.Encoder()
EventDict = MutableMapping[str, Any]
Processor = Callable[[Any, str, EventDict], Any]


def _iso_utc(ns: int) -> str:
    return (
        dt.datetime.fromtimestamp(ns // 1000 / 1e6, dt.UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def _level_number(level: int | str | None) -> int:
    if level is None:
        level = os.environ.get("LOG_LEVEL") or "info"
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.strip().upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return number


def build_processors(
    service: str,
    redactor: Redactor,
    clock_ns: Callable[[], int] = time.time_ns,
) -> tuple[list[Processor], Processor]:
    """(shared chain, renderer): the shared chain runs for structlog and stdlib records."""

    def add_base(_: Any, method: str, event_dict: EventDict) -> EventDict:
        record = event_dict.get("_record")
        if record is not None and "logger" not in event_dict:
            event_dict["logger"] = record.name
        event_dict["timestamp"] = _iso_utc(clock_ns())
        event_dict["level"] = (
            "error" if method == "exception" else ("warning" if method == "warn" else method)
        )
        event_dict["service"] = service
        ctx = current_context()
        ids = otel_ids()
        trace_id, span_id = ids if ids is not None else (ctx.trace_id, ctx.span_id)
        # Context fills what the call site did not say itself.
        if trace_id is not None:
            event_dict.setdefault("trace_id", trace_id)
        if span_id is not None:
            event_dict.setdefault("span_id", span_id)
        if ctx.user_id is not None:
            event_dict.setdefault("user_id", ctx.user_id)
        if ctx.session_id is not None:
            event_dict.setdefault("session_id", ctx.session_id)
        return event_dict

    def add_error(_: Any, __: str, event_dict: EventDict) -> EventDict:
        exc_info = event_dict.get("exc_info")
        if exc_info:
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            elif not isinstance(exc_info, tuple):
                exc_info = sys.exc_info()
            event_dict["exc_info"] = exc_info
            if exc_info[1] is not None:
                event_dict.setdefault("error", f"{exc_info[0].__name__}: {exc_info[1]}")
        error = event_dict.get("error")
        if isinstance(error, BaseException):
            event_dict["error"] = f"{type(error).__name__}: {error}"
        return event_dict

    def redact(_: Any, __: str, event_dict: EventDict) -> EventDict:
        payload = {k: v for k, v in event_dict.items() if k not in _STRUCTURAL and k[0] != "_"}
        clean, findings = redactor.redact_value(payload)
        if findings or clean != payload:
            event_dict.update(clean)
        return event_dict

    def render(_: Any, __: str, event_dict: EventDict) -> str:
        out: dict[str, Any] = {
            "timestamp": event_dict.pop("timestamp", None),
            "level": event_dict.pop("level", None),
            "service": event_dict.pop("service", None),
            "message": str(event_dict.pop("event", event_dict.pop("message", ""))),
        }
        for key, value in event_dict.items():
            if key[0] != "_":
                out[key] = value
        return _encoder.encode(out).decode()

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_base,
        add_error,
        structlog.processors.format_exc_info,
        structlog.processors.StackInfoRenderer(),
        redact,
    ]
    return shared, render


class _Config:
    generation = 0
    configured = False
    wrapper: type[Any] = structlog.make_filtering_bound_logger(logging.INFO)
    processors: list[Processor] = []
    factory: Any = None


def setup_structured_logging(
    service: str,
    level: int | str | None = None,
    *,
    stream: TextIO | None = None,
    redactor: Redactor | None = None,
    clock_ns: Callable[[], int] = time.time_ns,
    stdlib: bool = True,
) -> None:
    """Seed 003's entry point: JSON lines for ``service`` on ``stream`` (stdout).

    ``level`` defaults to ``LOG_LEVEL`` (else ``info``). With ``stdlib`` the root logger
    gets one handler rendering the same format (earlier stacklens handlers are replaced;
    other handlers are left alone, so remove e.g. ``basicConfig`` output yourself).
    Calling it again reconfigures; loggers already handed out follow.
    """
    number = _level_number(level)
    output = stream if stream is not None else sys.stdout
    shared, render = build_processors(service, redactor or make_redactor(), clock_ns)
    _Config.wrapper = structlog.make_filtering_bound_logger(number)
    _Config.processors = [*shared, render]
    _Config.factory = structlog.WriteLoggerFactory(file=output)
    _Config.configured = True
    _Config.generation += 1
    # Loggers from structlog.get_logger() elsewhere in the application share the format.
    structlog.configure(
        processors=_Config.processors,
        wrapper_class=_Config.wrapper,
        logger_factory=_Config.factory,
        cache_logger_on_first_use=False,
    )
    if stdlib:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, _HANDLER_MARK, False):
                root.removeHandler(handler)
        handler = logging.StreamHandler(output)
        setattr(handler, _HANDLER_MARK, True)
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared,
                processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, render],
            )
        )
        root.addHandler(handler)
        root.setLevel(number)


def reset_structured_logging() -> None:
    """Undo :func:`setup_structured_logging` (structlog defaults, our root handler)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    structlog.reset_defaults()
    _Config.configured = False
    _Config.generation += 1


class StructuredLogger:
    """A logger with the seed 003 helpers; plain ``info``/``warning``/... work too."""

    __slots__ = ("_bound", "_context", "_generation", "name")

    def __init__(self, name: str, context: dict[str, Any] | None = None) -> None:
        self.name = name
        self._context = context or {}
        self._generation = -1
        self._bound: Any = None

    def _logger(self) -> Any:
        if self._generation != _Config.generation:
            if not _Config.configured:
                setup_structured_logging(
                    os.environ.get("STACKLENS_SERVICE") or os.environ.get("STACK_NAME") or "unknown"
                )
            self._bound = structlog.wrap_logger(
                _Config.factory(),
                processors=_Config.processors,
                wrapper_class=_Config.wrapper,
            ).bind(logger=self.name, **self._context)
            self._generation = _Config.generation
        return self._bound

    def bind(self, **fields: Any) -> StructuredLogger:
        return StructuredLogger(self.name, {**self._context, **fields})

    def debug(self, message: str, **fields: Any) -> None:
        self._logger().debug(message, **fields)

    def info(self, message: str, **fields: Any) -> None:
        self._logger().info(message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._logger().warning(message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self._logger().error(message, **fields)

    def critical(self, message: str, **fields: Any) -> None:
        self._logger().critical(message, **fields)

    def exception(self, message: str, **fields: Any) -> None:
        """An error line with ``error`` and ``exception`` (the traceback, redacted)."""
        fields.setdefault("exc_info", True)
        self._logger().error(message, **fields)

    # -- seed 003 helpers ---------------------------------------------------------------
    def log_request(
        self, method: str, path: str, status_code: int, duration_ms: float, **fields: Any
    ) -> None:
        """An access-log line; 5xx at error, 4xx at warning."""
        level = "error" if status_code >= 500 else "warning" if status_code >= 400 else "info"
        getattr(self._logger(), level)(
            "request",
            method=method,
            path=path,
            status_code=status_code,
            duration_ms=round(duration_ms, 3),
            **fields,
        )

    def log_inference(self, model: str, latency_ms: float, **fields: Any) -> None:
        """A model call; ``inference_time_ms`` is the seed 004 field name."""
        self._logger().info(
            "inference", model=model, inference_time_ms=round(latency_ms, 3), **fields
        )

    def log_mcp_operation(
        self,
        server: str,
        operation: str,
        duration_ms: float,
        status: str = "success",
        **fields: Any,
    ) -> None:
        level = "info" if status == "success" else "warning"
        getattr(self._logger(), level)(
            "mcp_operation",
            mcp_server=server,
            mcp_operation=operation,
            duration_ms=round(duration_ms, 3),
            status=status,
            **fields,
        )

    def log_drift(self, model: str, drift_score: float, threshold: float, **fields: Any) -> None:
        """A drift check; above ``threshold`` it is a warning (seed 003 DriftDetected)."""
        level = "warning" if drift_score > threshold else "info"
        getattr(self._logger(), level)(
            "drift_check",
            model=model,
            drift_score=drift_score,
            threshold=threshold,
            drift_detected=drift_score > threshold,
            **fields,
        )


def get_structured_logger(name: str) -> StructuredLogger:
    """Seed 003's ``get_structured_logger(__name__)``; configures from env if needed."""
    return StructuredLogger(name)
