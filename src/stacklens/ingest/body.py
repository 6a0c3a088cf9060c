"""Request bodies: content encoding, the native JSON / array / NDJSON framing, and the
hint for a body whose declared type is not what it holds."""

from __future__ import annotations

import zlib
from typing import Any, Final, NamedTuple

import msgspec

__all__ = [
    "BodyError",
    "ParsedBody",
    "UnsupportedMediaError",
    "decode_content_encoding",
    "json_sent_as_protobuf",
    "media_type",
    "parse_native",
]

NATIVE_TYPES: Final = frozenset(
    {
        "application/json",
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/json-lines",
        "text/plain",  # curl --data-binary @events.jsonl without a type, Fluent Bit's json_lines
    }
)


class BodyError(ValueError):
    """The body cannot be read at all (400 unless said otherwise)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class UnsupportedMediaError(BodyError):
    def __init__(self, message: str) -> None:
        super().__init__(message, 415)


class ParsedBody(NamedTuple):
    events: list[Any]
    #: NDJSON lines that were not JSON: (index, reason).
    rejected: list[tuple[int, str]]


_decoder = msgspec.json.Decoder()


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_content_encoding(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate or none), refusing to inflate past
    ``limit`` bytes (a compressed bomb is a 413, not an out-of-memory)."""
    name = (encoding or "identity").strip().lower()
    if name in ("identity", ""):
        return body
    if name in ("gzip", "x-gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if name != "deflate" else zlib.MAX_WBITS
        out = bytearray()
        data = body
        while True:
            inflater = zlib.decompressobj(wbits)
            try:
                out += inflater.decompress(data, limit - len(out) + 1)
            except zlib.error:
                raise BodyError(f"body is not valid {name}") from None
            if len(out) > limit or inflater.unconsumed_tail:
                raise BodyError(f"decompressed body is larger than {limit} bytes", 413)
            if not inflater.eof:
                raise BodyError(f"body is truncated {name}")
            # gzip allows several members back to back (RFC 1952 §2.2): read them all.
            data = inflater.unused_data
            if name == "deflate" or not data:
                return bytes(out)
    raise UnsupportedMediaError(f"Content-Encoding {name!r} is not supported (gzip, deflate)")


def parse_native(body: bytes) -> ParsedBody:
    """A JSON object, a JSON array of objects, or NDJSON (one object a line)."""
    stripped = body.strip()
    if not stripped:
        raise BodyError("body is empty")
    if stripped[:1] in (b"{", b"["):
        try:
            value = _decoder.decode(stripped)
        except RecursionError:
            raise BodyError("body is nested too deeply") from None
        except msgspec.DecodeError as exc:
            if b"\n" not in stripped or stripped[:1] == b"[":
                raise BodyError(f"body is not valid JSON: {exc}") from None
        else:
            return ParsedBody(value if isinstance(value, list) else [value], [])
    events: list[Any] = []
    rejected: list[tuple[int, str]] = []
    # Blank lines are skipped, so an index counts records, as it does for an array.
    for line in stripped.split(b"\n"):
        if not line.strip():
            continue
        index = len(events)
        try:
            events.append(_decoder.decode(line))
        except RecursionError:
            events.append(None)
            rejected.append((index, "line is nested too deeply"))
        except msgspec.DecodeError as exc:
            events.append(None)
            rejected.append((index, f"line is not valid JSON: {exc}"))
    if len(rejected) == len(events):
        raise BodyError("body is not JSON, a JSON array or NDJSON")
    return ParsedBody(events, rejected)


def json_sent_as_protobuf(body: bytes, content_type: str | None) -> str | None:
    """A hint when a body declared protobuf is in fact JSON (a common client mistake),
    or ``None``. Only called once decoding has already failed."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if "protobuf" in declared and body.lstrip()[:1] in (b"{", b"["):
        return (
            f"the body is JSON but Content-Type says {declared}: "
            "send it with Content-Type: application/json"
        )
    return None
