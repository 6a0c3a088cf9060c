"""The result type every OTLP span/log decoder returns."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["DecodeResult"]


class DecodeResult(NamedTuple):
    """Raw events in the native contract shape, and the items that could not be mapped.

    ``rejected`` holds ``(index, reason)``; the index is the item's position in
    flattened order across every resource and scope group of the request.
    """

    events: list[dict[str, Any]]
    rejected: list[tuple[int, str]]
