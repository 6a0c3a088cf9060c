r"""User regular expressions in LogQL, checked once for both engines that run them.

The store runs pushed-down ones with RE2 (DuckDB, ClickHouse); the pipeline runs the
rest with Python's ``re``, which backtracks. So a pattern is refused (a 400) when:

- Python cannot compile it, or it is longer than :data:`MAX_REGEX_CHARS`;
- it uses what RE2 lacks (look-arounds, back-references, possessive or atomic
  groups) or an escape the two read differently (only ``\d \s \w \b \A \n \t
  \r \f \v \a \x``, their negations, and escaped punctuation are taken): the
  store would fail on it, or match otherwise, instead of answering;
- a group opens with ``(?`` other than ``(?:``, ``(?P<name>`` or flags of ``i m s``
  (``(?#...)``, ``(?x)``, ``(?a)`` are Python's only);
- a repeated group itself repeats (``(a+)+``), the shape that backtracks
  exponentially in Python. (An ambiguous alternation under a repeat, ``(a|aa)*``,
  is not caught; lines are bounded by the ingest limits.)
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from re import _constants as _c  # type: ignore[attr-defined]
from re import _parser as _p  # type: ignore[attr-defined]
from typing import Any, Final

from .syntax import LogQLError

__all__ = ["MAX_REGEX_CHARS", "compile_regex"]

MAX_REGEX_CHARS: Final = 1024
_REPEATS: Final = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)
_ESCAPES: Final = frozenset("dDsSwWbBAntrfvax")
_GROUP: Final = re.compile(r"\(\?(?::|P<[A-Za-z_][A-Za-z0-9_]*>|[ims]*(?:-[ims]+)?[:)])")
_NOT_RE2: Final = (_c.ASSERT, _c.ASSERT_NOT, _c.GROUPREF, _c.GROUPREF_EXISTS, _c.ATOMIC_GROUP)


def _children(op: Any, arg: Any) -> list[Any]:
    if op in _REPEATS:
        return [arg[2]]
    if op is _c.SUBPATTERN:
        return [arg[-1]]
    if op is _c.BRANCH:
        return list(arg[1])
    if op in (_c.ASSERT, _c.ASSERT_NOT):
        return [arg[1]]
    if op is _c.ATOMIC_GROUP:
        return [arg]
    return []


def _has_repeat(items: Any) -> bool:
    for op, arg in items:
        if op in _REPEATS and arg[1] > 1:
            return True
        if any(_has_repeat(child) for child in _children(op, arg)):
            return True
    return False


def _problem(items: Any) -> str | None:
    for op, arg in items:
        if op in _NOT_RE2 or op is _c.POSSESSIVE_REPEAT:
            return "uses a look-around, back-reference or possessive/atomic group (RE2 has none)"
        if op in _REPEATS and arg[1] > 1 and _has_repeat(arg[2]):
            return "repeats a repeated group (like (a+)+): rewrite it without the nested repeat"
        for child in _children(op, arg):
            found = _problem(child)
            if found:
                return found
    return None


def _bad_escape(pattern: str) -> str | None:
    """The first escape letter, or ``(?`` group kind, the two engines disagree on."""
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            code = pattern[i + 1]
            if code.isalnum() and code not in _ESCAPES:
                return "\\" + code
            i += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif (char == "(" and not in_class and pattern.startswith("(?", i)) and not _GROUP.match(
            pattern, i
        ):
            return pattern[i : i + 3]
        i += 1
    return None


@lru_cache(maxsize=256)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """A user's regular expression, checked; :class:`LogQLError` when refused."""
    if len(pattern) > MAX_REGEX_CHARS:
        raise LogQLError(f"regular expression is longer than {MAX_REGEX_CHARS} characters")
    escape = _bad_escape(pattern)
    if escape is not None:
        raise LogQLError(
            f"regular expression {pattern[:60]!r}: {escape!r} is not supported "
            "(RE2 and Python read it differently)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = _p.parse(pattern)
            compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        raise LogQLError(f"invalid regular expression {pattern[:60]!r}: {exc}") from None
    problem = _problem(parsed.data if hasattr(parsed, "data") else parsed)
    if problem is not None:
        raise LogQLError(f"regular expression {pattern[:60]!r} {problem}")
    return compiled
