"""Personal identifiers: user-id keys wherever they arrive, e-mail addresses in text.

A user id is pseudonymized whatever its route: the native ``user_id`` field, OTel
``user.id`` / ``enduser.id`` attributes, a Loki ``user_id`` label, LangChain-style
``metadata.user_id``. They all get the same pseudonym for the same id, so a user is
followed across protocols without being named. E-mail addresses in free text follow
the stack's :attr:`.PrivacyPolicy.emails` (by default what ``pseudonymize_users``
says: pseudonymized).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Final, Literal

from stacklens.privacy.key_names import split_words

__all__ = ["EMAIL_RE", "EmailMode", "is_user_key", "replace_emails"]

EmailMode = Literal["pseudonymize", "redact", "keep"]

#: ``local@domain.tld``, whole addresses only (the look-arounds). An scp-style remote
#: (``git@github.com:org/repo``) is address-shaped and is treated as one: harmless.
EMAIL_RE: Final = re.compile(
    r"(?<![\w.+%\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w\-])"
)
_USER_TAILS: Final = (("user", "id"), ("user", "email"), ("enduser", "id"))


@functools.lru_cache(maxsize=4096)
def is_user_key(name: str) -> bool:
    """``user_id``, ``userId``, ``user.id``, ``enduser.id``, ``langfuse.user.id``,
    ``user.email``: a key whose value identifies a person."""
    if len(name) > 100:
        return False
    words = tuple(split_words(name))
    return len(words) >= 2 and words[-2:] in _USER_TAILS


def replace_emails(
    text: str, mode: EmailMode, pseudonym: Callable[[str], str], found: list[str]
) -> str:
    """``text`` with every e-mail address pseudonymized or redacted (``found`` gets
    ``"email"`` per redaction); ``keep`` returns it as is."""
    if mode == "keep" or "@" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if mode == "redact":
            found.append("email")
            return "[REDACTED:email]"
        return pseudonym(match.group())

    return EMAIL_RE.sub(replace, text)
