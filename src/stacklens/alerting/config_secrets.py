"""Secrets in the alerting config: held in :class:`Secret` (never printed) and shown
only as scheme+host (:func:`redact_url`)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["Secret", "redact_url", "scrub"]


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/services/T/B/X`` → ``https://hooks.slack.com``."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "<redacted>"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class Secret:
    """A secret value; printing it shows ``<secret>``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('<secret>')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``<secret>`` (and cut to 500 chars)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<secret>")
    return text[:500]
