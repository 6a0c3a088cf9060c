"""``multipart/form-data`` bodies of ``POST /runs/multipart``, parsed from bytes.

The LangSmith SDKs send one part per piece of an operation: ``post.<run id>`` (the run
without its big fields), ``post.<run id>.inputs``, ``patch.<run id>.outputs``,
``feedback.<id>``, ``attachment.<run id>.<name>`` ... each JSON (attachments: any type).
The body is parsed here rather than by the web framework so the decoder can run in a
worker process on the raw bytes, like every protocol's.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

__all__ = ["MultipartError", "Part", "boundary_of", "parse_parts"]

_BOUNDARY: Final = re.compile(r'boundary="?([^";]{1,200})"?', re.IGNORECASE)
_NAME: Final = re.compile(rb'name="([^"]{1,300})"', re.IGNORECASE)


class MultipartError(ValueError):
    """Not a multipart/form-data body this endpoint can read (400)."""


class Part(NamedTuple):
    name: str
    content_type: str
    content: bytes


def boundary_of(content_type: str | None) -> str:
    """The boundary of a ``multipart/form-data`` Content-Type; raise otherwise."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "multipart/form-data":
        raise MultipartError("Content-Type must be multipart/form-data; boundary=...")
    found = _BOUNDARY.search(content_type or "")
    if found is None:
        raise MultipartError("multipart/form-data needs a boundary parameter")
    return found.group(1)


def parse_parts(body: bytes, boundary: str) -> list[Part]:
    """The parts of ``body`` in order; raise MultipartError on a malformed body."""
    delimiter = b"--" + boundary.encode("latin-1")
    pieces = body.split(delimiter)
    if len(pieces) < 2:
        raise MultipartError("the body does not contain its boundary")
    parts: list[Part] = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break  # the closing delimiter
        start = 2 if piece.startswith(b"\r\n") else 0
        head, separator, content = piece[start:].partition(b"\r\n\r\n")
        if not separator:
            raise MultipartError("a part has no blank line after its headers")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        name = None
        content_type = "application/octet-stream"
        for line in head.split(b"\r\n"):
            key, _, value = line.partition(b":")
            key = key.strip().lower()
            if key == b"content-disposition":
                found = _NAME.search(value)
                if found is not None:
                    name = found.group(1).decode("utf-8", "replace")
            elif key == b"content-type":
                content_type = value.strip().decode("latin-1").lower()
        if name is None:
            raise MultipartError("a part has no Content-Disposition name")
        parts.append(Part(name, content_type, content))
    else:
        raise MultipartError("the body has no closing boundary")
    return parts
