"""Issue 11: an OTLP ``bytesValue`` carrying text is stored as that text, so that the
privacy engine scrubs it (as hex it skipped the scrubber and reached disk)."""

from __future__ import annotations

import base64
import json

import msgspec

from stacklens.ingest.otlp import decode_traces
from stacklens.ingest.otlp.attributes import bytes_text
from stacklens.privacy import Redactor
from stacklens.testing.secrets import BYTES_VALUE_KEY


def _span_with_bytes(raw: bytes) -> bytes:
    value = {"bytesValue": base64.b64encode(raw).decode()}
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b173",
        "name": "chat",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "attributes": [{"key": "payload", "value": value}],
    }
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    return json.dumps(document).encode()


def test_binary_bytes_stay_hex() -> None:
    assert bytes_text(b"\x01\x02") == "0102"
    assert bytes_text(bytes(range(16))) == bytes(range(16)).hex()


def test_text_bytes_become_text() -> None:
    assert bytes_text(b"hello, world") == "hello, world"
    framed = bytes_text(b"\x00\x01" + BYTES_VALUE_KEY.encode() + b"\xff")
    assert BYTES_VALUE_KEY in framed and "\x00" not in framed


def test_secret_in_bytes_value_is_scrubbed() -> None:
    for raw in (BYTES_VALUE_KEY.encode(), b"\x00\x01" + BYTES_VALUE_KEY.encode() + b"\xff"):
        [event] = decode_traces(_span_with_bytes(raw), "application/json").events
        stored = Redactor(b"k" * 32).redact_event(event).event
        blob = msgspec.json.encode(stored)
        assert BYTES_VALUE_KEY.encode() not in blob
        assert BYTES_VALUE_KEY.encode().hex().encode() not in blob
        assert "[REDACTED:openai]" in stored["attributes"]["payload"]
