"""Loki push decoder: ``POST /loki/api/v1/push`` bodies (JSON or snappy protobuf) →
raw ``log`` events in the native contract shape. Pure functions, no I/O."""

from __future__ import annotations

from .encoding import DEFAULT_MAX_BYTES, LokiDecodeError
from .labels import LabelError, format_labels, parse_labels
from .push import DecodeResult, decode_push

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DecodeResult",
    "LabelError",
    "LokiDecodeError",
    "decode_push",
    "format_labels",
    "parse_labels",
]
