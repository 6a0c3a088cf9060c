"""OTLP JSON request bodies for tests: many small GenAI spans, or one nested value."""

from __future__ import annotations

import os
from typing import Any

import msgspec

__all__ = ["json_span", "traces_body"]


def json_span(
    index: int, now_ns: int, attributes: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One OTLP JSON span (hex ids), a GenAI chat call unless ``attributes`` say else."""
    return {
        "traceId": os.urandom(16).hex(),
        "spanId": os.urandom(8).hex(),
        "name": f"chat gpt-4o {index}",
        "kind": 3,
        "startTimeUnixNano": str(now_ns),
        "endTimeUnixNano": str(now_ns + 10**8),
        "attributes": attributes
        if attributes is not None
        else [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "120"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 7}},
        ],
        "status": {"code": 1},
    }


def traces_body(spans: list[dict[str, Any]], stack: str) -> bytes:
    """An ExportTraceServiceRequest in OTLP JSON holding ``spans`` for ``stack``."""
    document = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "stack.name", "value": {"stringValue": stack}}]
                },
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
        ]
    }
    return msgspec.json.encode(document)
