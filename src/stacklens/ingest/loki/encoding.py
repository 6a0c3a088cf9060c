"""Undo a Loki push body's encodings: Content-Encoding (gzip/deflate) and, for
protobuf, snappy *block* compression (Loki's push format, not the framed format).

Every step is bounded by ``max_bytes`` so a small body cannot expand into gigabytes.
"""

from __future__ import annotations

from typing import Final

import cramjam

from stacklens.ingest.body import BodyError, decode_content_encoding

__all__ = ["DEFAULT_MAX_BYTES", "LokiDecodeError", "decode_content", "unsnappy"]

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024


class LokiDecodeError(ValueError):
    """The push body cannot be parsed at all (HTTP 400); ``str(err)`` is the reason."""


def decode_content(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Undo the HTTP Content-Encoding (identity, gzip or deflate): the native route's
    decoder (every gzip member read, bounded inflation), its errors as Loki's."""
    encoding = (content_encoding or "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise LokiDecodeError(f"unsupported Content-Encoding {encoding[:40]!r}")
    try:
        return decode_content_encoding(body, encoding, max_bytes)
    except BodyError as err:
        raise LokiDecodeError(str(err)) from None


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
