"""Value rules adopted from a maintained detector set: detect-secrets' plugin regexes.

The regexes are data (``data/detect_secrets.json``, vendored from the detect-secrets
package by ``scripts/vendor_detect_secrets.py``; Apache-2.0, see
``data/detect_secrets.LICENSE``). Only their ``denylist`` patterns are used: the
package's scanning machinery is file-oriented and slow, and importing it pulls in
``requests`` (~110 ms), so the hub does not depend on it at run time.

:data:`ADOPTED` says which plugin patterns run here, the rule each reports and the
literal every match contains, so that :mod:`.detectors` folds them into its one literal
pre-filter: a string with none of the literals costs nothing more. The patterns run as
one combined regex (:func:`scrub_fixed`) on the strings that pass it.

Not adopted (``tests/privacy/test_privacy_maintained.py`` lists them): patterns the
hand-grown rules already cover (AWS ``AKIA``, Azure, OpenAI, SendGrid, Stripe, NPM,
URL credentials, ``-----BEGIN ... PRIVATE KEY-----`` blocks); the keyword forms of
Cloudant, IBM and SoftLayer (a key name then a value: the key-name rules catch the
``name=value`` and JSON forms, not ``:=``/``=>``/space-separated ones); and regexes
that flag ordinary text (the public-IP plugin, the bare ``eyJ`` JWT regex, which the
plugin itself confirms by decoding, bare ``BEGIN ... PRIVATE KEY`` words without the
key, Slack tokens shorter than any real one). The plugins without a regex denylist are not
adopted either: on the innocuous corpus the keyword plugin flags 2/140 (1.4 %, over the
1 % bound), hex entropy 2/140, base64 entropy 1/140 (``scripts/vendor_detect_secrets.py
--fp``); the corpus test allows none.

Two adopted formats have no literal (Discord bot and Telegram bot tokens); they run in
:func:`scrub_loose` only on strings long enough to hold one and containing its
separator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Final

__all__ = [
    "ADOPTED",
    "FIXED",
    "GROUP_RULE",
    "LOOSE_MIN_LENGTH",
    "MARKERS",
    "MARKER_PATTERNS",
    "Adopted",
    "Rule",
    "load_rules",
    "replace",
    "scrub_fixed",
    "scrub_loose",
]

_B: Final = r"(?<![A-Za-z0-9])"
_E: Final = r"(?![A-Za-z0-9])"


@dataclass(frozen=True, slots=True)
class Rule:
    """One vendored detect-secrets pattern."""

    plugin: str
    index: int
    pattern: str
    ignorecase: bool


@dataclass(frozen=True, slots=True)
class Adopted:
    """How one plugin pattern runs here.

    ``markers``: case-sensitive literals one of which every match contains (empty for a
    loose rule). ``bounded``: wrap the pattern in token boundaries (most detect-secrets
    patterns are written for whole files and would match inside a longer word).
    ``tail``: what follows the match and is redacted with it (a key block's body).
    ``secret_group``: the pattern's capture group holding the secret (0: all of it).
    """

    rule: str
    markers: tuple[str, ...]
    bounded: bool = True
    tail: str = ""
    secret_group: int = 0


def load_rules() -> dict[tuple[str, int], Rule]:
    """The vendored patterns by (plugin, index)."""
    text = resources.files("stacklens.privacy").joinpath("data/detect_secrets.json").read_text()
    rules: dict[tuple[str, int], Rule] = {}
    for entry in json.loads(text)["rules"]:
        rule = Rule(entry["plugin"], entry["index"], entry["pattern"], entry["ignorecase"])
        rules[(rule.plugin, rule.index)] = rule
    return rules


_PEM_TAIL: Final = r"[\s\S]*?(?:-*[ ]*END[A-Z0-9 ]*PRIVATE KEY[ -]*|\Z)"

#: (plugin, pattern index) -> how it runs. Everything else in the data file is covered
#: by a hand-grown rule or not adopted (see the module docstring).
ADOPTED: Final[dict[tuple[str, int], Adopted]] = {
    ("AWSKeyDetector", 0): Adopted("aws_access_key", ("A3T",)),
    ("ArtifactoryDetector", 0): Adopted("artifactory", ("AKC",), bounded=False),
    ("ArtifactoryDetector", 1): Adopted("artifactory", (), bounded=False),
    ("GitHubTokenDetector", 0): Adopted("github", ("hp_", "ho_", "hu_", "hs_", "hr_")),
    ("GitLabTokenDetector", 0): Adopted("gitlab", ("glft-", "glsoat-", "glpat-", "glrt-")),
    ("GitLabTokenDetector", 1): Adopted("gitlab", ("GR1348941",)),
    ("GitLabTokenDetector", 3): Adopted("gitlab", ("glimt-",)),
    ("GitLabTokenDetector", 5): Adopted("gitlab", ("glagent-",)),
    ("MailchimpDetector", 0): Adopted("mailchimp", ("-us",)),
    ("PrivateKeyDetector", 6): Adopted(
        "private_key", ("SSH2 ENCRYPTED",), bounded=False, tail=_PEM_TAIL
    ),
    # A PuTTY key file has no end line: everything after its header goes.
    ("PrivateKeyDetector", 7): Adopted(
        "private_key", ("PuTTY-User-Key",), bounded=False, tail=r"[\s\S]*"
    ),
    ("PypiTokenDetector", 0): Adopted("pypi", ("pypi-AgE",)),
    ("PypiTokenDetector", 1): Adopted("pypi", ("pypi-AgE",)),
    ("SoftlayerDetector", 1): Adopted("softlayer", ("softlayer",), bounded=False, secret_group=1),
    ("SquareOAuthDetector", 0): Adopted("square_oauth", ("sq0csp-",)),
    ("TwilioKeyDetector", 0): Adopted("twilio", ()),
    ("TwilioKeyDetector", 1): Adopted("twilio", ("SK",)),
    ("DiscordBotTokenDetector", 0): Adopted("discord_bot_token", (), bounded=False),
    ("TelegramBotTokenDetector", 0): Adopted("telegram", (), bounded=False),
}

#: Two-letter prefixes are common inside upper-case ids (a ULID holds "AC" or "AP" one
#: time in 40), so these rules' pre-filter entries also require what follows the prefix
#: (lower case for Twilio's ``AC``; a token start and a hex digit for Artifactory's
#: ``AP``). Each starts with a literal, which keeps the pre-filter a C-level scan.
_MARKER_PATTERNS: Final[dict[tuple[str, int], str]] = {
    ("ArtifactoryDetector", 1): r"A(?<![A-Za-z0-9]A)P[0-9A-F]",
    ("TwilioKeyDetector", 0): r"AC[a-z0-9]{4}",
}
#: Rules without any literal, with the character a string must contain to hold one.
_LOOSE_GATE: Final[dict[tuple[str, int], str]] = {
    ("DiscordBotTokenDetector", 0): ".",
    ("TelegramBotTokenDetector", 0): ":",
}


#: Artifactory's patterns consume a separator on each side of the token (a space, quote,
#: ``=`` or ``:``). As look-arounds they leave the separator to the ``name=value`` rule
#: that may precede; widened to "not a letter or digit" they also find the token before
#: a comma or colon and inside brackets, as free text has it (every match of the
#: original is still a match).
_CONSUMED: Final = (
    ('(?:\\s|=|:|"|^)', _B),
    ('(?:\\s|"|$)', _E),
)


def _wrapped(rule: Rule, how: Adopted) -> str:
    body = rule.pattern
    for consumed, look in _CONSUMED:
        body = body.replace(consumed, look)
    pattern = f"(?i:{body})" if rule.ignorecase else f"(?:{body})"
    if how.bounded:
        pattern = _B + pattern + _E
    return pattern + how.tail


_RULES: Final = load_rules()

#: (group name, pattern) for the combined detector; :data:`GROUP_RULE` names the rule.
FIXED: Final[list[tuple[str, str]]] = []
GROUP_RULE: Final[dict[str, str]] = {}
_SECRET_GROUP: dict[str, int] = {}
MARKERS: Final[list[str]] = []
#: Pre-filter entries that are regexes, not literals (see :data:`_MARKER_PATTERNS`).
MARKER_PATTERNS: Final[list[str]] = []
_LOOSE: list[tuple[str, str, re.Pattern[str]]] = []
for _n, (_key, _how) in enumerate(ADOPTED.items()):
    _group = f"ds{_n}"
    GROUP_RULE[_group] = _how.rule
    _SECRET_GROUP[_group] = _how.secret_group
    if _key in _LOOSE_GATE:
        _pattern = re.compile(f"(?P<{_group}>{_wrapped(_RULES[_key], _how)})")
        _LOOSE.append((_LOOSE_GATE[_key], _group, _pattern))
        continue
    FIXED.append((_group, _wrapped(_RULES[_key], _how)))
    MARKERS.extend(_how.markers)
    if _key in _MARKER_PATTERNS:
        MARKER_PATTERNS.append(_MARKER_PATTERNS[_key])
#: The shortest loose match (a Discord bot token: 24 + 1 + 6 + 1 + 27 characters;
#: a Telegram one is 8 + 1 + 35).
LOOSE_MIN_LENGTH: Final = 44
#: Whitespace and quotes a match may carry at its ends (a PuTTY key's trailing newline);
#: they stay outside the marker.
_BOUNDARY_CHARS: Final = " \t\r\n=:\"'"


def replace(match: re.Match[str], group: str, marker: str) -> str:
    """The text of ``match`` with its secret part replaced by ``marker``.

    The secret part is the capture group :attr:`Adopted.secret_group` names when there
    is one (SoftLayer's URL keeps its path prefix), else the whole match less any
    whitespace, quote, ``=`` or ``:`` at its ends.
    """
    whole = match.group(group)
    base = match.start(group)
    secret = _SECRET_GROUP[group]
    if secret:
        start, end = match.span(match.re.groupindex[group] + secret)
        return whole[: start - base] + marker + whole[end - base :]
    stripped = whole.strip(_BOUNDARY_CHARS)
    if not stripped:
        return whole
    left = whole.index(stripped)
    return whole[:left] + marker + whole[left + len(stripped) :]


def _trie(words: list[str]) -> str:
    return "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))


_FIXED_RE: Final = re.compile("|".join(f"(?P<{group}>{pattern})" for group, pattern in FIXED))
_FIXED_TRIGGER: Final = re.compile("|".join([_trie(MARKERS), *MARKER_PATTERNS]))


def scrub_fixed(text: str, found: list[str], marker: Callable[[str], str]) -> str:
    """The adopted rules that have a literal (all but :func:`scrub_loose`'s)."""
    if _FIXED_TRIGGER.search(text) is None:
        return text

    def _sub(match: re.Match[str]) -> str:
        group = match.lastgroup or ""
        rule = GROUP_RULE[group]
        found.append(rule)
        return replace(match, group, marker(rule))

    return _FIXED_RE.sub(_sub, text)


def _is_token(text: str, start: int, end: int) -> bool:
    # Telegram's API puts the token straight after "bot" (api.telegram.org/bot<token>/).
    starts = start == 0 or not text[start - 1].isalnum() or text.endswith("/bot", 0, start)
    return starts and not (end < len(text) and text[end].isalnum())


def scrub_loose(text: str, found: list[str], marker: Callable[[str], str]) -> str:
    """Discord and Telegram bot tokens in ``text`` (a long string with ``.`` or ``:``).

    Their patterns run unbounded and the token boundary is checked on a match: a
    leading look-behind would stop the regex engine from skipping ahead to the
    pattern's first character class. Each runs only if the text holds its separator
    (measured: one combined search of both costs 20x the two ``in`` tests).
    """
    if len(text) < LOOSE_MIN_LENGTH:
        return text
    for gate, group, pattern in _LOOSE:
        if gate not in text:
            continue
        rule = GROUP_RULE[group]
        parts: list[str] = []
        position = 0
        for match in pattern.finditer(text):
            if _is_token(text, match.start(), match.end()):
                found.append(rule)
                parts.append(text[position : match.start()])
                parts.append(replace(match, group, marker(rule)))
                position = match.end()
        if parts:
            parts.append(text[position:])
            text = "".join(parts)
    return text
