"""The hub's own logs: structlog, one JSON object a line on stderr."""

from __future__ import annotations

import logging
import os
import sys

import structlog

__all__ = ["configure_hub_logging"]


def configure_hub_logging(level: str | None = None) -> None:
    name = (level or os.environ.get("STACKLENS_LOG_LEVEL") or "info").upper()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(name)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
