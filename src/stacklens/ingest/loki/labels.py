"""Loki stream label strings: ``{app="chat", level="info", msg="say \\"hi\\""}``.

Promtail/Alloy send each stream's labels as one LogQL/PromQL-style selector string
(field ``labels`` of ``StreamAdapter``). Values are quoted strings with Go escapes
(Loki parses them with the PromQL lexer): double quotes, single quotes or backticks
(raw, no escapes). Names are ``[a-zA-Z_][a-zA-Z0-9_]*`` or, since Prometheus 3, quoted.
Only ``=`` makes sense in a push; anything else is an error.
"""

from __future__ import annotations

from typing import Final

__all__ = ["LabelError", "format_labels", "parse_labels"]


class LabelError(ValueError):
    """The label string is not a valid ``{name="value", ...}`` selector."""


_SIMPLE: Final = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}
_HEX_WIDTH: Final = {"x": 2, "u": 4, "U": 8}
_NAME_START: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS: Final = _NAME_START | frozenset("0123456789")


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """Parse the quoted string starting at ``text[pos]``; return (value, next position)."""
    quote = text[pos]
    pos += 1
    if quote == "`":
        end = text.find("`", pos)
        if end < 0:
            raise LabelError("unterminated raw string")
        return text[pos:end], end + 1
    parts: list[str] = []
    start = pos
    length = len(text)
    while True:
        if pos >= length:
            raise LabelError("unterminated string")
        char = text[pos]
        if char == quote:
            parts.append(text[start:pos])
            return "".join(parts), pos + 1
        if char == "\n":
            raise LabelError("newline in string")
        if char != "\\":
            pos += 1
            continue
        parts.append(text[start:pos])
        if pos + 1 >= length:
            raise LabelError("unterminated escape")
        code = text[pos + 1]
        if code in _SIMPLE:
            parts.append(_SIMPLE[code])
            pos += 2
        elif code in _HEX_WIDTH:
            width = _HEX_WIDTH[code]
            digits = text[pos + 2 : pos + 2 + width]
            try:
                value = int(digits, 16) if len(digits) == width else -1
            except ValueError:
                value = -1
            if value < 0 or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise LabelError(f"invalid \\{code} escape")
            # \xNN is a byte in Go; for ASCII (the only sane use in labels) it is the char.
            parts.append(chr(value))
            pos += 2 + width
        elif code in "01234567":
            digits = text[pos + 1 : pos + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits):
                raise LabelError("invalid octal escape")
            value = int(digits, 8)
            if value > 0xFF:
                raise LabelError("octal escape out of range")
            parts.append(chr(value))
            pos += 4
        else:
            raise LabelError(f"unknown escape \\{code}")
        start = pos


def _skip_space(text: str, pos: int) -> int:
    length = len(text)
    while pos < length and text[pos] in " \t\r\n":
        pos += 1
    return pos


def parse_labels(text: str) -> dict[str, str]:
    """``{a="1", b="x\\"y"}`` → ``{"a": "1", "b": 'x"y'}``; raises :class:`LabelError`."""
    pos = _skip_space(text, 0)
    if pos >= len(text) or text[pos] != "{":
        raise LabelError("labels must start with '{'")
    labels: dict[str, str] = {}
    pos = _skip_space(text, pos + 1)
    while True:
        if pos >= len(text):
            raise LabelError("labels must end with '}'")
        char = text[pos]
        if char == "}":
            pos += 1
            break
        if char in "\"'`":
            name, pos = _quoted(text, pos)
        elif char in _NAME_START:
            start = pos
            while pos < len(text) and text[pos] in _NAME_CHARS:
                pos += 1
            name = text[start:pos]
        else:
            raise LabelError(f"unexpected {char!r} at position {pos}")
        pos = _skip_space(text, pos)
        if text[pos : pos + 1] != "=" or text[pos : pos + 2] == "=~":
            raise LabelError(f"label {name[:40]!r} must be followed by '='")
        pos = _skip_space(text, pos + 1)
        if pos >= len(text) or text[pos] not in "\"'`":
            raise LabelError(f"label {name[:40]!r} needs a quoted value")
        value, pos = _quoted(text, pos)
        if name in labels:
            raise LabelError(f"duplicate label {name[:40]!r}")
        labels[name] = value
        pos = _skip_space(text, pos)
        if text[pos : pos + 1] == ",":
            pos = _skip_space(text, pos + 1)
        elif text[pos : pos + 1] != "}":
            raise LabelError(f"expected ',' or '}}' at position {pos}")
    if _skip_space(text, pos) != len(text):
        raise LabelError("unexpected text after '}'")
    return labels


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def format_labels(labels: dict[str, str]) -> str:
    """The canonical (sorted) label string; the inverse of :func:`parse_labels`."""
    parts = []
    for name in sorted(labels):
        bare = name and name[0] in _NAME_START and all(c in _NAME_CHARS for c in name)
        parts.append(f"{name if bare else _quote(name)}={_quote(labels[name])}")
    return "{" + ", ".join(parts) + "}"
