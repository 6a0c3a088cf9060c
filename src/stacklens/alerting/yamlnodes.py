"""YAML with line numbers: every value read from a config or rule file knows its line.

``yaml.compose`` keeps each node's ``start_mark``; :func:`load_located` turns the node
tree into :class:`Located` values (plain Python inside, 1-based line outside) so that a
validator can say *where* a problem is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["FileError", "Located", "Problem", "load_located"]


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class FileError(ValueError):
    """A file failed validation; ``problems`` lists each with its line."""

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        self.source = source
        prefix = f"{source}:" if source else "line "
        lines = [f"{prefix}{p.line}: {p.message}" if source else str(p) for p in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Located:
    """A YAML value and the line it starts on. Mappings hold ``dict[str, Located]``,
    sequences ``list[Located]``, scalars their constructed Python value."""

    value: Any
    line: int

    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def get(self, key: str) -> Located | None:
        return self.value.get(key) if isinstance(self.value, dict) else None

    def plain(self) -> Any:
        """The value with every :class:`Located` unwrapped."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


def _convert(node: yaml.Node, loader: yaml.SafeLoader) -> Located:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[str, Located] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                raise FileError([Problem(key_node.start_mark.line + 1, "keys must be scalars")])
            name = str(key)
            if name in out:
                raise FileError([Problem(key_node.start_mark.line + 1, f"duplicate key {name!r}")])
            out[name] = _convert(value_node, loader)
        return Located(out, line)
    if isinstance(node, yaml.SequenceNode):
        return Located([_convert(item, loader) for item in node.value], line)
    return Located(loader.construct_object(node, deep=True), line)


def load_located(text: str) -> Located:
    """Parse one YAML document; syntax errors become a :class:`FileError` with the line."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located({}, 1)
        return _convert(node, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise FileError([Problem(line, f"YAML syntax: {exc.problem or exc}")]) from None
    finally:
        loader.dispose()
