"""Secrets in disguise: decoded forms and bare high-entropy keys.

A secret that is base64-, hex- or URL-encoded is still a secret, and an AWS secret
access key has no prefix at all (40 characters of base64 alphabet). This pass runs
after the shape/context pass of :func:`.detectors.scrub_text` and costs one regex scan
per string that has a long enough run of base64/hex characters (or a ``%``):

- a run of 16+ ``[A-Za-z0-9+/_-]`` characters that decodes (hex, base64, base64url) to
  printable UTF-8 text is scrubbed as that text; if a secret is found there, the whole
  run is replaced. Random ids (git SHAs, UUIDs, trace ids, digests) decode to binary
  and are left alone for the price of one decode;
- a run of exactly 40 base64-alphabet characters with upper case, lower case and digits
  and the entropy of random data is a bare AWS secret access key. A git SHA (40 hex,
  one case) never qualifies;
- a token with ``%XX`` escapes is URL-decoded and scrubbed; if the decoded text holds a
  secret, the token is replaced by the scrubbed decoded text.
"""

from __future__ import annotations

import binascii
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Final
from urllib.parse import unquote

__all__ = ["AWS_SECRET_RULE", "looks_random", "scrub_encoded"]

AWS_SECRET_RULE: Final = "aws_secret_key"
Scrub = Callable[[str, list[str]], str]

#: Shortest run worth decoding: the base64 of a 12-character secret.
_MIN_RUN: Final = 16
_RUN: Final = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{16,}+={0,2}")
_PERCENT_TOKEN: Final = re.compile(r"[^\s\"'<>%]*(?:%[0-9A-Fa-f]{2}[^\s\"'<>%]*)+")
_URLSAFE: Final = str.maketrans("-_", "+/")
_CONTROL_WS: Final = re.compile(r"[\n\r\t]")
#: Quick rejection without decoding. Text (ASCII, and the tab/newline/CR controls) has
#: bytes 0x09-0x0D and 0x20-0x7E: the high nibble, every other hex digit, is one of
#: these. In base64 the first character of every 4 holds a byte's top 6 bits, which for
#: ASCII is below 32: A-Z or a-f. A random id fails either test within a few bytes.
#: (Non-ASCII UTF-8 text in hex or base64 is not decoded: secrets are ASCII.)
#: Each character class is tested as a regex ``fullmatch`` of ``[...]*`` (true for the
#: empty string, as a set's ``issuperset`` is): the engine's charset scan costs a few ns
#: a character, where ``frozenset.issuperset(text)`` hashes each one (3-4x slower on a
#: 48-character trace id, and every id string pays these gates).
_HEX_TEXT_HIGH: Final = re.compile(r"[0234567]*").fullmatch
_B64_TEXT_FIRST: Final = re.compile(r"[A-Za-f]*").fullmatch
_RUN_CHARS: Final = re.compile(r"[A-Za-z0-9+/_\-]*").fullmatch
_HEX: Final = re.compile(r"[0-9a-fA-F]*").fullmatch
_B64_STD: Final = re.compile(r"[A-Za-z0-9+/]*").fullmatch
#: Shannon entropy (bits per character) of 40 random base64 characters is about 4.9
#: (4.6 at the 1st percentile); camel-case words and paths stay under 4.2.
_AWS_ENTROPY: Final = 4.3


def _entropy(text: str) -> float:
    length = len(text)
    return -sum(n / length * math.log2(n / length) for n in Counter(text).values())


def looks_random(text: str) -> bool:
    """Upper, lower and digits, entropy of random data: a generated key, not a word."""
    return (
        any(c.isupper() for c in text)
        and any(c.islower() for c in text)
        and any(c.isdigit() for c in text)
        and _entropy(text) >= _AWS_ENTROPY
    )


def _is_aws_secret(run: str) -> bool:
    # A "=" after it is prose ("KEY=...=") or padding no 40-character base64 has.
    run = run.rstrip("=")
    return len(run) == 40 and _B64_STD(run) is not None and _HEX(run) is None and looks_random(run)


_AWS_IN_WORDS: Final = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])")


def _aws_piece(piece: str, found: list[str]) -> str:
    if not _is_aws_secret(piece):
        return piece
    found.append(AWS_SECRET_RULE)
    return f"[REDACTED:{AWS_SECRET_RULE}]"


def _decoded_text(run: str) -> str | None:
    """The printable text a run encodes, or ``None`` (binary, or not an encoding).

    Written to raise no exception on the common case (a random id decoding to binary):
    a raised and caught exception costs more than the rest of the scan.
    """
    body = run.rstrip("=")
    if len(body) % 2 == 0 and _HEX(body) is not None:
        if _HEX_TEXT_HIGH(body[::2]) is None:
            return None
        raw = binascii.unhexlify(body)
    elif len(body) % 4 == 1:
        return None  # no base64 text has this length
    elif _B64_TEXT_FIRST(body[::4]) is None:
        return None
    else:
        if "-" in body or "_" in body:
            body = body.translate(_URLSAFE)
        raw = binascii.a2b_base64(body + "=" * (-len(body) % 4))
    if not raw.isascii():
        return None
    text = raw.decode("ascii")
    if len(text) < 8:
        return None
    if not text.isprintable() and not _CONTROL_WS.sub("", text).isprintable():
        return None
    return text


def _runs(text: str, found: list[str], scrub: Scrub) -> str:
    parts: list[str] = []
    position = 0
    for match in _RUN.finditer(text):
        run = match.group()
        replacement: str | None = None
        if _is_aws_secret(run):
            found.append(AWS_SECRET_RULE)
            replacement = f"[REDACTED:{AWS_SECRET_RULE}]"
        elif len(run) > 40 and ("_" in run or "-" in run) and _AWS_IN_WORDS.search(run):
            # ``key_<secret>``: "_" and "-" are not in the AWS alphabet, so they bound one.
            replacement = _AWS_IN_WORDS.sub(lambda m: _aws_piece(m.group(), found), run)
            if replacement == run:
                replacement = None
        else:
            decoded = _decoded_text(run)
            if decoded is not None:
                rules: list[str] = []
                scrub(decoded, rules)
                if rules:
                    found.extend(rules)
                    replacement = f"[REDACTED:{rules[0]}]"
        if replacement is not None:
            parts.append(text[position : match.start()])
            parts.append(replacement)
            position = match.end()
    if not parts:
        return text
    parts.append(text[position:])
    return "".join(parts)


def _percent(text: str, found: list[str], scrub: Scrub) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group()
        decoded = unquote(token)
        if decoded == token:
            return token
        rules: list[str] = []
        cleaned = scrub(decoded, rules)
        if not rules:
            return token
        found.extend(rules)
        return cleaned

    return _PERCENT_TOKEN.sub(replace, text)


def scrub_encoded(text: str, found: list[str], scrub: Scrub) -> str:
    """``text`` with encoded secrets and bare AWS secret keys replaced (see module doc).

    ``scrub`` is the whole scrubber (this pass included), applied to every decoded form:
    base64 of a URL-encoded secret is found too, and since a decoded form is always
    shorter than its encoding, the recursion ends.
    """
    result = text
    if "%" in result:
        result = _percent(result, found, scrub)
    if len(result) < _MIN_RUN:
        return result
    body = result.rstrip("=")
    # One run, as ids are: decided without searching for runs or decoding. (A run longer than
    # 40 is searched for an AWS key only where "_" or "-" can bound one.)
    one_run = _RUN_CHARS(body) is not None
    no_aws = len(body) < 40 or (len(body) > 40 and "_" not in body and "-" not in body)
    if (
        one_run
        and no_aws
        and _HEX_TEXT_HIGH(body[::2]) is None
        and _B64_TEXT_FIRST(body[::4]) is None
    ):
        return result
    return _runs(result, found, scrub)
