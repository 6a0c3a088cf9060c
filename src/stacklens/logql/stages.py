"""Running a log pipeline over one line: line filters, ``json``/``logfmt``, label
filters, ``line_format`` and ``unwrap``, with Loki's semantics.

Loki's rules kept here: a parser that fails marks the line with ``__error__``
(``JSONParserErr``) instead of dropping it; a numeric or duration filter lets a line
that already carries an error through (only a string matcher such as
``__error__=""`` removes it) and drops one that lacks the label; a value that is not a
number marks ``LabelFilterErr``. An extracted key that collides with a stream label
gets the suffix ``_extracted``.

Regular expressions are checked once by :func:`stacklens.logql.regex.compile_regex`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from .lexer import parse_duration_value
from .regex import compile_regex
from .syntax import (
    Drop,
    JsonParser,
    LabelFilter,
    LabelMatcher,
    LineFilter,
    LineFormat,
    LogfmtParser,
    NumberFilter,
    Stage,
    Unwrap,
)

__all__ = ["ERROR_LABEL", "Processed", "drop_labels", "match_label", "run_stages"]

ERROR_LABEL: Final = "__error__"
_SANITIZE: Final = re.compile(r"[^A-Za-z0-9_]")
_LOGFMT: Final = re.compile(r'([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|[^\s"]*))?')
_MAX_JSON_DEPTH: Final = 16
_decoder = msgspec.json.Decoder()

#: (line, labels, sample value) after the pipeline; ``None``: the line was dropped.
Processed = tuple[str, dict[str, str], float | None]


def _line_filter(stage: LineFilter, line: str) -> bool:
    if stage.op == "|=":
        return stage.value in line
    if stage.op == "!=":
        return stage.value not in line
    found = compile_regex(stage.value).search(line) is not None
    return found if stage.op == "|~" else not found


def _key(name: str) -> str:
    key = _SANITIZE.sub("_", name)
    return "_" + key if key[:1].isdigit() else key


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return None


def _flatten(prefix: str, value: Any, out: dict[str, str], depth: int) -> None:
    if isinstance(value, dict):
        if depth >= _MAX_JSON_DEPTH:
            return
        for key, item in value.items():
            name = _key(str(key))
            _flatten(f"{prefix}_{name}" if prefix else name, item, out, depth + 1)
        return
    text = _text(value)
    if text is not None and prefix:
        out[prefix] = text


def _path(document: Any, path: str) -> str | None:
    node = document
    for part in re.findall(r"[^.\[\]\"]+", path):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if isinstance(node, dict | list):
        return msgspec.json.encode(node).decode()
    return _text(node)


def _add(labels: dict[str, str], extracted: dict[str, str], base: frozenset[str]) -> None:
    for key, value in extracted.items():
        labels[f"{key}_extracted" if key in base else key] = value


def _parse_json(stage: JsonParser, line: str, labels: dict[str, str], base: frozenset[str]) -> None:
    try:
        document = _decoder.decode(line)
    except (msgspec.DecodeError, ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        labels[ERROR_LABEL] = "JSONParserErr"
        return
    extracted: dict[str, str] = {}
    if stage.params:
        for name, path in stage.params:
            value = _path(document, path)
            if value is not None:
                extracted[name] = value
    else:
        _flatten("", document, extracted, 0)
    _add(labels, extracted, base)


def _parse_logfmt(line: str, labels: dict[str, str], base: frozenset[str]) -> None:
    extracted: dict[str, str] = {}
    for match in _LOGFMT.finditer(line):
        key, value = _key(match.group(1)), match.group(2) or ""
        if value.startswith('"'):
            try:
                value = msgspec.json.decode(value)
            except (msgspec.DecodeError, ValueError):
                value = value[1:-1]
        if key:
            extracted[key] = str(value)
    _add(labels, extracted, base)


def _compare(op: str, left: float, right: float) -> bool:
    return {
        "==": left == right,
        "!=": left != right,
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }[op]


def match_label(matcher: LabelMatcher, value: str) -> bool:
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    found = compile_regex(matcher.value).fullmatch(value) is not None
    return found if matcher.op == "=~" else not found


def _predicate(item: LabelMatcher | NumberFilter, labels: dict[str, str]) -> bool:
    if isinstance(item, LabelMatcher):
        return match_label(item, labels.get(item.name, ""))
    if ERROR_LABEL in labels:
        return True  # Loki: only a string matcher can filter out a line with an error
    raw = labels.get(item.name)
    if raw is None:
        return False
    number: float | None
    if item.duration:
        number = parse_duration_value(raw)
    else:
        try:
            number = float(raw)
        except ValueError:
            number = None
    if number is None or math.isnan(number):
        labels[ERROR_LABEL] = "LabelFilterErr"
        return True
    return _compare(item.op, number, item.value)


def _sample(stage: Unwrap, labels: dict[str, str]) -> float | None:
    raw = labels.pop(stage.label, None)
    value: float | None = None
    if raw is not None:
        if stage.duration:
            value = parse_duration_value(raw)
        else:
            try:
                value = float(raw)
            except ValueError:
                value = None
    if value is None:
        labels[ERROR_LABEL] = "SampleExtractionErr"
    return value


def drop_labels(stage: Drop, labels: dict[str, str]) -> None:
    """Apply ``| drop`` / ``| keep`` to ``labels`` in place."""
    wanted = set(stage.names)
    for name in list(labels):
        if (name in wanted) != stage.keep:
            del labels[name]


def run_stages(line: str, labels: dict[str, str], stages: Sequence[Stage]) -> Processed | None:
    """``line`` with its ``labels`` through ``stages`` (``labels`` is modified)."""
    base = frozenset(labels)
    value: float | None = None
    for stage in stages:
        if isinstance(stage, LineFilter):
            if not _line_filter(stage, line):
                return None
        elif isinstance(stage, JsonParser):
            _parse_json(stage, line, labels, base)
        elif isinstance(stage, LogfmtParser):
            _parse_logfmt(line, labels, base)
        elif isinstance(stage, LabelFilter):
            if not any(all(_predicate(i, labels) for i in alt) for alt in stage.alternatives):
                return None
        elif isinstance(stage, Drop):
            drop_labels(stage, labels)
        elif isinstance(stage, LineFormat):
            line = "".join(labels.get(text, "") if ref else text for ref, text in stage.parts)
        else:
            value = _sample(stage, labels)
    return line, labels, value
