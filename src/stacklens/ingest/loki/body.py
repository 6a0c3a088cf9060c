"""Undo a Loki push body's encodings: Content-Encoding (gzip/deflate) and, for
protobuf, snappy *block* compression (Loki's push format, not the framed format).

Every step is bounded by ``max_bytes`` so a small body cannot expand into gigabytes.
"""

from __future__ import annotations

import zlib
from typing import Final

import cramjam

__all__ = ["DEFAULT_MAX_BYTES", "LokiDecodeError", "decode_content", "unsnappy"]

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024


class LokiDecodeError(ValueError):
    """The push body cannot be parsed at all (HTTP 400); ``str(err)`` is the reason."""


def _inflate(body: bytes, wbits: int, max_bytes: int) -> bytes:
    out = bytearray()
    data = body
    while data:
        decompressor = zlib.decompressobj(wbits)
        try:
            out += decompressor.decompress(data, max_bytes - len(out) + 1)
        except zlib.error as err:
            raise LokiDecodeError(f"invalid compressed body: {err}") from None
        if len(out) > max_bytes or decompressor.unconsumed_tail:
            raise LokiDecodeError(f"decompressed body is larger than {max_bytes} bytes")
        if not decompressor.eof:
            raise LokiDecodeError("truncated compressed body")
        data = decompressor.unused_data  # gzip allows several members back to back
        if wbits != 31:
            break
    return bytes(out)


def decode_content(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Undo the HTTP Content-Encoding (identity, gzip or deflate)."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, 31, max_bytes)
    if encoding == "deflate":
        return _inflate(body, 15, max_bytes)
    raise LokiDecodeError(f"unsupported Content-Encoding {encoding[:40]!r}")


def _snappy_length(body: bytes) -> int:
    """The uncompressed length a snappy block announces (a varint preamble)."""
    result = 0
    for shift, byte in zip(range(0, 35, 7), body, strict=False):
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
    raise LokiDecodeError("invalid snappy block: bad length preamble")


def unsnappy(body: bytes, max_bytes: int) -> bytes:
    """Decompress a snappy block, refusing one that announces more than ``max_bytes``."""
    if _snappy_length(body) > max_bytes:
        raise LokiDecodeError(f"decompressed body is larger than {max_bytes} bytes")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as err:
        raise LokiDecodeError(f"invalid snappy block: {err}") from None
