"""Per-stack privacy policy and the result types of the engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import msgspec

__all__ = ["ContentMode", "Finding", "PrivacyPolicy", "RedactionResult"]

ContentMode = Literal["hash", "drop", "store"]


class PrivacyPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a stack's events keep; loadable from JSON/YAML config.

    ``PrivacyPolicy.from_dict({"content": "store", "pseudonymize_users": False})``
    """

    #: Prompts/responses/message text (``data.content``): ``hash`` keeps a keyed hash,
    #: length and word count; ``drop`` keeps length and word count; ``store`` keeps the
    #: text with secrets scrubbed.
    content: ContentMode = "hash"
    #: ``user_id`` → ``u_`` + 16 hex of a keyed hash (stable per deployment key), and so
    #: every user-id key (``user.id``, ``enduser.id``, a ``user_id`` label or attribute).
    pseudonymize_users: bool = True
    #: E-mail addresses in free text: ``pseudonymize`` (the user pseudonym of the
    #: address), ``redact`` or ``keep``; unset follows ``pseudonymize_users``.
    emails: Literal["pseudonymize", "redact", "keep"] | None = None

    @property
    def email_mode(self) -> Literal["pseudonymize", "redact", "keep"]:
        if self.emails is not None:
            return self.emails
        return "pseudonymize" if self.pseudonymize_users else "keep"

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> PrivacyPolicy:
        """Validate a config mapping; raises :class:`msgspec.ValidationError`."""
        return msgspec.convert(dict(value), cls)


class Finding(NamedTuple):
    """One redaction: the rule that fired and where, never the value."""

    rule: str
    path: str


class RedactionResult(NamedTuple):
    #: A new canonical event dict, safe to store.
    event: dict[str, Any]
    findings: list[Finding]
