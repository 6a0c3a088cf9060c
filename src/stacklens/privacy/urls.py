"""URL sanitizing: ``scheme://host[:port]/path?key1=&key2=``.

Decision on queries: query *keys* are kept with their values emptied (``?page=&q=``),
so a reader still sees which parameters a call used; values are always dropped, since
they are where tokens, signatures (Azure SAS ``sig=``, AWS ``X-Amz-Signature=``) and
personal data travel. A key that is not a plain identifier, or that itself looks like a
secret, is dropped whole. User info (``user:pass@``) and fragments are always removed;
host and path are kept but run through the value detectors (a Slack webhook path is a
secret). Sanitizing is idempotent.

This module knows the shape of a URL, not what a secret looks like: the value detectors
are passed in as ``scrub`` (:func:`stacklens.privacy.detectors.sanitize_url` binds
them), since they in turn sanitize every URL they meet in free text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

__all__ = ["Scrub", "sanitize_url"]

_QUERY_KEY: Final = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")

#: Replaces the secrets in a piece of text, appending the rules that fired to ``found``.
Scrub = Callable[[str, list[str]], str]


def _query(query: str, found: list[str], _scrub: Scrub) -> str:
    kept: list[str] = []
    for part in query.split("&"):
        key, eq, value = part.partition("=")
        if value:
            _scrub(part, found)  # only to report what was there; the value goes anyway
        if not _QUERY_KEY.fullmatch(key):
            continue
        probe: list[str] = []
        if _scrub(key, probe) is not key:
            found.extend(probe)
            continue
        kept.append(key + eq)
    return "&".join(kept)


def sanitize_url(url: str, found: list[str], scrub: Scrub) -> str:
    """``url`` without user info, query values or fragment; fired rules go to ``found``.

    Also accepts a bare path with a query (``/v1/items?token=...``).
    """
    scheme, sep, rest = url.partition("://")
    if sep:
        end = len(rest)
        for stop in "/?#":
            index = rest.find(stop)
            if index != -1 and index < end:
                end = index
        authority, tail = rest[:end], rest[end:]
        userinfo, at, hostport = authority.rpartition("@")
        if at:
            if userinfo:
                found.append("url_credentials")
            authority = hostport
        prefix = scheme + sep
    else:
        authority, tail, prefix = "", url, ""
    tail = tail.partition("#")[0]
    path, question, query = tail.partition("?")
    location = scrub(authority + path, found)
    if question:
        query = _query(query, found, scrub)
    return prefix + location + ("?" + query if query else "")
