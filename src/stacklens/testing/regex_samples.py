"""Random strings that match a regular expression, for testing detectors against the
formats their maintained regexes document (no real secret is ever hard-coded).

:func:`sample` walks the parsed pattern: literals are kept, character classes give a
random member, repeats give a random count from their lower bound (plus a little, so
``{20,}`` yields 20-24 characters), alternations a random branch, look-arounds and
anchors nothing. Every sample is checked with ``re.search`` before it is returned.
"""

from __future__ import annotations

import random
import re
import string

# The parser is how ``re`` itself reads patterns; its public alias ``sre_parse`` is
# deprecated, ``re._parser`` is the same module under its current name.
from re import _constants as _c  # type: ignore[attr-defined]
from re import _parser as _p  # type: ignore[attr-defined]
from typing import Any

__all__ = ["sample"]

_CATEGORIES: dict[Any, str] = {
    _c.CATEGORY_DIGIT: string.digits,
    _c.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    _c.CATEGORY_SPACE: " ",
    _c.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
    _c.CATEGORY_NOT_DIGIT: string.ascii_letters,
    _c.CATEGORY_NOT_WORD: " ",
}
#: What ``.`` and negated classes draw from: characters no rule treats as a separator.
_ANY = string.ascii_letters + string.digits


def _class(items: list[tuple[Any, Any]]) -> str:
    if items and items[0][0] is _c.NEGATE:
        excluded = _class(items[1:])
        return "".join(c for c in _ANY if c not in excluded)
    chars: list[str] = []
    for op, arg in items:
        if op is _c.LITERAL:
            chars.append(chr(arg))
        elif op is _c.RANGE:
            chars.extend(chr(c) for c in range(arg[0], arg[1] + 1))
        elif op is _c.CATEGORY:
            chars.extend(_CATEGORIES[arg])
    return "".join(chars)


def _emit(items: Any, rng: random.Random, groups: dict[int, str]) -> str:
    out: list[str] = []
    for op, arg in items:
        if op is _c.LITERAL:
            out.append(chr(arg))
        elif op is _c.NOT_LITERAL:
            out.append(rng.choice([c for c in _ANY if c != chr(arg)]))
        elif op is _c.ANY:
            out.append(rng.choice(_ANY))
        elif op is _c.IN:
            out.append(rng.choice(_class(list(arg))))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            low, high, sub = arg
            top = low + 4 if high is _c.MAXREPEAT else min(high, low + 4)
            out.extend(_emit(sub, rng, groups) for _ in range(rng.randint(low, top)))
        elif op is _c.BRANCH:
            out.append(_emit(rng.choice(arg[1]), rng, groups))
        elif op is _c.SUBPATTERN:
            text = _emit(arg[-1], rng, groups)
            if arg[0] is not None:
                groups[arg[0]] = text
            out.append(text)
        elif op is _c.GROUPREF:
            out.append(groups.get(arg, ""))
        elif op is _c.CATEGORY:
            out.append(rng.choice(_CATEGORIES[arg]))
        # AT (anchors), ASSERT, ASSERT_NOT: nothing to emit.
    return "".join(out)


def sample(pattern: str, rng: random.Random, flags: int = 0, tries: int = 50) -> str:
    """A random string that ``re.search(pattern, ..., flags)`` matches."""
    compiled = re.compile(pattern, flags)
    parsed = _p.parse(pattern, flags)
    for _ in range(tries):
        text = _emit(parsed, rng, {})
        if compiled.search(text):
            return text
    raise ValueError(f"no sample found for {pattern!r}")
