"""Free text the hub keeps outside events: silence comments and authors, stack
descriptions and health URLs, key labels (all in ``metadata.sqlite``).

Secrets are replaced as in events (the same detectors); a health URL loses its user
info (``user:pass@``) and any query value that is a secret, and keeps the rest so that
it still works as a link.
"""

from __future__ import annotations

from typing import overload

from stacklens.privacy.detectors import MIN_LENGTH, scrub_text

__all__ = ["scrub_free_text", "scrub_health_url"]


@overload
def scrub_free_text(text: str) -> str: ...
@overload
def scrub_free_text(text: None) -> None: ...
def scrub_free_text(text: str | None) -> str | None:
    """``text`` with every detected secret (any encoding) replaced."""
    if text is None or len(text) < MIN_LENGTH:
        return text
    return scrub_text(text, [])


def scrub_health_url(url: str | None) -> str | None:
    """``url`` without user info; query values and path parts scrubbed, kept otherwise."""
    if url is None:
        return None
    scheme, sep, rest = url.partition("://")
    if sep:
        end = len(rest)
        for stop in "/?#":
            index = rest.find(stop)
            if index != -1:
                end = min(end, index)
        authority, tail = rest[:end], rest[end:]
        if "@" in authority:
            authority = authority.rpartition("@")[2]
        url = scheme + sep + authority + tail
    path, question, query = url.partition("?")
    if not question:
        return scrub_free_text(path)
    pairs = []
    for part in query.split("&"):
        # "name=value" through the scrubber: a secret name or a secret-shaped value goes.
        pairs.append(scrub_free_text(part))
    return scrub_free_text(path) + "?" + "&".join(pairs)
