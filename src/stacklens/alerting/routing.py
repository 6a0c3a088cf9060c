"""Alertmanager-style routing, pure: matchers, the route tree, inhibit rules.

- A :class:`Matcher` is ``name=value``, ``name!=value``, ``name=~regex`` or
  ``name!~regex`` (regexes anchored; a missing label matches as ``""``).
- :func:`match_routes` walks the tree like Alertmanager: depth first, the first
  matching child wins unless it has ``continue: true``; a node with no matching child
  takes the alert itself.
- :func:`group_key` names an aggregation group exactly as Alertmanager does
  (``{}/{severity="critical"}:{alertname="X"}``).
- :func:`is_inhibited`: a target is muted while a firing source alert matches the
  source matchers and agrees on the ``equal`` labels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "GROUP_BY_ALL",
    "InhibitRule",
    "Matcher",
    "Route",
    "format_labels",
    "group_key",
    "group_labels",
    "is_inhibited",
    "match_routes",
    "parse_matcher",
]

GROUP_BY_ALL: Final = "..."
_MATCHER = re.compile(
    r"""\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^"',{}]*?)\s*"""
)


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in ("=", "!=", "=~", "!~"):
            raise ValueError(f"unknown matcher operator {self.op!r}")
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"bad regex in matcher {self.name}: {exc}") from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value)}"


def parse_matcher(text: str) -> Matcher:
    """``severity="critical"``, ``alertname=~"High.*"``, ``team!=infra`` → Matcher."""
    match = _MATCHER.fullmatch(text)
    if not match:
        raise ValueError(f'not a matcher: {text!r} (e.g. severity="critical")')
    name, op, raw = match.groups()
    if raw.startswith('"'):
        value = str(json.loads(raw))
    elif raw.startswith("'"):
        value = raw[1:-1]
    else:
        value = raw
    return Matcher(name, op, value)


def _all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True)
class Route:
    """A node of the route tree with every inherited setting already resolved."""

    receiver: str
    group_by: tuple[str, ...] = ("alertname",)
    group_wait_ns: int = 30 * 10**9
    group_interval_ns: int = 5 * 60 * 10**9
    repeat_interval_ns: int = 4 * 3600 * 10**9
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    routes: tuple[Route, ...] = ()
    #: Alertmanager's route key: the matchers of every node from the root down.
    key: str = "{}"

    def matches(self, labels: Mapping[str, str]) -> bool:
        return _all_match(self.matchers, labels)


def match_routes(route: Route, labels: Mapping[str, str]) -> list[Route]:
    """The routes an alert with ``labels`` goes to (Alertmanager's ``Route.Match``)."""
    if not route.matches(labels):
        return []
    found: list[Route] = []
    for child in route.routes:
        matched = match_routes(child, labels)
        found.extend(matched)
        if matched and not child.continue_:
            break
    return found or [route]


def group_labels(route: Route, labels: Mapping[str, str]) -> dict[str, str]:
    if GROUP_BY_ALL in route.group_by:
        return dict(labels)
    return {name: labels[name] for name in route.group_by if labels.get(name)}


def format_labels(labels: Mapping[str, str]) -> str:
    """A label set as Alertmanager prints it: ``{a="1", b="2"}``."""
    return "{" + ", ".join(f"{k}={json.dumps(labels[k])}" for k in sorted(labels)) + "}"


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    return f"{route.key}:{format_labels(group_labels(route, labels))}"


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()


def is_inhibited(
    labels: Mapping[str, str],
    fp: str,
    firing: Sequence[tuple[str, Mapping[str, str]]],
    rules: Sequence[InhibitRule],
) -> bool:
    """Whether an alert is muted by a firing source alert (``firing``: fingerprint and
    labels of every firing alert). An alert matching both sides of a rule never
    inhibits another that does too, and no alert inhibits itself."""
    for rule in rules:
        if not _all_match(rule.target, labels):
            continue
        target_both = _all_match(rule.source, labels)
        for source_fp, source in firing:
            if source_fp == fp or not _all_match(rule.source, source):
                continue
            if target_both and _all_match(rule.target, source):
                continue
            if all(source.get(name, "") == labels.get(name, "") for name in rule.equal):
                return True
    return False
