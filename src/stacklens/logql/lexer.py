"""LogQL tokens: strings (Go escapes, or raw in backticks), durations, numbers, names
and operators; and Go durations as label values (``250ms``, ``1h2m``) in seconds."""

from __future__ import annotations

import re
from typing import Final, cast

from .syntax import LogQLError

__all__ = ["Token", "parse_duration_value", "tokenize", "unquote"]

#: (kind, text, position): kind is str, dur, num, ident or op.
Token = tuple[str, str, int]
_TOKEN: Final = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\\n]|\\.)*"|`[^`]*`)
    | (?P<dur>(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w|y))+)
    | (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>\|=|\|~|!=|!~|=~|==|>=|<=|[{}()\[\],|=<>+\-*/%])
    )""",
    re.VERBOSE,
)
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/"}
_GO_DURATION: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def tokenize(text: str) -> list[Token]:
    """Every token of ``text``; :class:`LogQLError` at the first character that starts none."""
    tokens: list[Token] = []
    pos = 0
    while True:
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            rest = text[pos:].strip()
            if not rest:
                return tokens
            at = len(text) - len(text[pos:].lstrip())
            raise LogQLError(f"parse error at position {at}: unexpected {rest[:20]!r}")
        kind = cast(str, match.lastgroup)
        tokens.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()


def parse_duration_value(text: str) -> float | None:
    """A Go duration (``250ms``, ``1.5s``, ``1h2m``) in seconds; ``None`` if not one."""
    text = text.strip()
    sign = 1.0
    if text[:1] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    if not text or len(text) > 64:
        return None
    total, pos = 0.0, 0
    for match in _GO_DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    return sign * total if pos == len(text) and pos > 0 else None


def unquote(token: str) -> str:
    if token[0] == "`":
        return token[1:-1]
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        code = body[i + 1]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise LogQLError(f"invalid \\{code} escape in string")
            value = int(digits, 16)
            if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise LogQLError(f"invalid \\{code} escape in string")
            out.append(chr(value))
            i += 2 + width
        else:
            raise LogQLError(f"unknown escape \\{code} in string")
    return "".join(out)
