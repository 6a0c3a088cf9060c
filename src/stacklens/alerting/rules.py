"""Alert rule files: the Prometheus rule-file shape, with a signal as the condition.

```yaml
groups:
  - name: llm
    interval: 30s
    rules:
      - alert: HighLLMLatency
        signal: latency_quantile      # from the catalog (stacklens.alerting.signals)
        params: {quantile: 0.95}
        window: 5m
        by: [stack_name, model]
        where: {provider: openai}     # scalar: =, list: in, {"=~": re} / {"!=": v} ...
        op: ">"
        threshold: 30
        for: 5m
        keep_firing_for: 0s
        labels: {severity: warning}
        annotations:
          summary: "P95 latency {{ $value | humanize }}s on {{ $labels.stack_name }}"
```

:func:`parse_rules` reports every problem with its line number (:class:`FileError`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from stacklens.alerting.durations import parse_duration
from stacklens.alerting.message_templates import Template, TemplateError, compile_template
from stacklens.alerting.signals import (
    COMPARISONS,
    FILTER_OPS,
    SIGNALS,
    Condition,
    Filter,
    SignalError,
    validate_condition,
)
from stacklens.alerting.yamlnodes import FileError, Located, Problem, load_located

__all__ = [
    "LABEL_NAME",
    "Rule",
    "RuleGroup",
    "RuleSet",
    "load_rules",
    "merge_rule_sets",
    "parse_rules",
    "rule_unit",
]

LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
DEFAULT_INTERVAL_NS: Final = 30 * 10**9
_RULE_KEYS: Final = frozenset(
    {
        "alert",
        "signal",
        "params",
        "window",
        "by",
        "where",
        "op",
        "threshold",
        "for",
        "keep_firing_for",
        "labels",
        "annotations",
        "enabled",
        "description",
    }
)
_GROUP_KEYS: Final = frozenset({"name", "interval", "rules", "limit"})


@dataclass(frozen=True)
class Rule:
    name: str
    group: str
    condition: Condition
    for_ns: int = 0
    keep_firing_for_ns: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    enabled: bool = True
    line: int = 0
    label_templates: Mapping[str, Template] = field(default_factory=dict, compare=False)
    annotation_templates: Mapping[str, Template] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """Identity of the rule in persisted state: ``group/alert``."""
        return f"{self.group}/{self.name}"


@dataclass(frozen=True)
class RuleGroup:
    name: str
    interval_ns: int
    rules: tuple[Rule, ...]
    line: int = 0


@dataclass(frozen=True)
class RuleSet:
    groups: tuple[RuleGroup, ...] = ()

    def rules(self) -> list[Rule]:
        return [rule for group in self.groups for rule in group.rules]

    def enabled_rules(self) -> list[Rule]:
        return [rule for rule in self.rules() if rule.enabled]


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message))


def _duration(node: Located | None, what: str, out: _Collector, default: int = 0) -> int:
    if node is None:
        return default
    try:
        return parse_duration(str(node.value))
    except ValueError as exc:
        out.add(node.line, f"{what}: {exc}")
        return default


def _string_map(node: Located | None, what: str, out: _Collector) -> dict[str, tuple[str, int]]:
    if node is None:
        return {}
    if not node.is_map():
        out.add(node.line, f"{what} must be a mapping")
        return {}
    result = {}
    for key, value in node.value.items():
        if not LABEL_NAME.fullmatch(key):
            out.add(value.line, f"{what}: invalid name {key!r}")
        if isinstance(value.value, dict | list) or value.value is None:
            out.add(value.line, f"{what}.{key} must be a string")
            continue
        result[key] = (str(value.value), value.line)
    return result


def _templates(
    items: dict[str, tuple[str, int]], what: str, out: _Collector
) -> dict[str, Template]:
    compiled = {}
    for key, (text, line) in items.items():
        try:
            compiled[key] = compile_template(text)
        except TemplateError as exc:
            out.add(line, f"{what}.{key}: {exc}")
    return compiled


def _filters(node: Located | None, out: _Collector) -> tuple[Filter, ...]:
    if node is None:
        return ()
    if not node.is_map():
        out.add(node.line, "where must be a mapping of dimension to value")
        return ()
    filters = []
    for dimension, item in node.value.items():
        value = item.value
        if isinstance(value, list):
            filters.append(Filter(dimension, "in", tuple(str(v.value) for v in value)))
        elif isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in FILTER_OPS:
                out.add(item.line, f"where.{dimension}: use one of {', '.join(FILTER_OPS)} as key")
                continue
            op, operand = next(iter(value.items()))
            raw = operand.value
            filters.append(
                Filter(
                    dimension,
                    op,
                    tuple(str(v.value) for v in raw) if isinstance(raw, list) else str(raw),
                )
            )
        elif value is None:
            out.add(item.line, f"where.{dimension} needs a value")
        else:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            filters.append(Filter(dimension, "=", text))
    return tuple(filters)


def _rule(node: Located, group: str, out: _Collector) -> Rule | None:
    if not node.is_map():
        out.add(node.line, "a rule must be a mapping")
        return None
    get = node.get
    name_node = get("alert")
    if get("record") is not None:
        out.add(node.line, "recording rules are not supported: use `alert`")
        return None
    if get("expr") is not None:
        expr = get("expr")
        assert expr is not None
        out.add(
            expr.line,
            "stacklens evaluates `signal`, not PromQL `expr` "
            "(`stacklens rules export --format prometheus` writes the PromQL)",
        )
    for key, value in node.value.items():
        if key not in _RULE_KEYS and key != "expr":
            out.add(value.line, f"unknown rule field {key!r}")
    if name_node is None or not isinstance(name_node.value, str) or not name_node.value:
        out.add(node.line, "rule needs `alert: Name`")
        return None
    name = name_node.value
    if not LABEL_NAME.fullmatch(name):
        out.add(name_node.line, f"alert name {name!r} must match {LABEL_NAME.pattern}")
    signal_node = get("signal")
    if signal_node is None:
        out.add(node.line, f"rule {name} needs `signal` (one of {', '.join(SIGNALS)})")
    by_node = get("by")
    by: tuple[str, ...] = ()
    if by_node is not None:
        if not by_node.is_list() or not all(isinstance(v.value, str) for v in by_node.value):
            out.add(by_node.line, "by must be a list of dimension names")
        else:
            by = tuple(v.value for v in by_node.value)
    op_node = get("op")
    op = str(op_node.value) if op_node is not None else ">"
    if op not in COMPARISONS:
        out.add(
            op_node.line if op_node else node.line, f"op must be one of {' '.join(COMPARISONS)}"
        )
    threshold_node = get("threshold")
    threshold = 0.0
    if threshold_node is None:
        out.add(node.line, f"rule {name} needs `threshold`")
    elif isinstance(threshold_node.value, bool) or not isinstance(
        threshold_node.value, int | float
    ):
        out.add(threshold_node.line, "threshold must be a number")
    else:
        threshold = float(threshold_node.value)
    params_node = get("params")
    params: dict[str, Any] = {}
    if params_node is not None:
        if not params_node.is_map():
            out.add(params_node.line, "params must be a mapping")
        else:
            params = params_node.plain()
    window_ns = _duration(get("window"), "window", out, default=5 * 60 * 10**9)
    condition = Condition(
        signal=str(signal_node.value) if signal_node else "",
        window_ns=window_ns,
        op=op,
        threshold=threshold,
        by=by,
        where=_filters(get("where"), out),
        params=params,
    )
    if signal_node is not None:
        try:
            validate_condition(condition)
        except SignalError as exc:
            out.add(signal_node.line, f"rule {name}: {exc}")
    labels = _string_map(get("labels"), "labels", out)
    if "alertname" in labels:
        out.add(labels["alertname"][1], "labels cannot set alertname")
    annotations = _string_map(get("annotations"), "annotations", out)
    enabled_node = get("enabled")
    if enabled_node is not None and not isinstance(enabled_node.value, bool):
        out.add(enabled_node.line, "enabled must be true or false")
    description = get("description")
    return Rule(
        name=name,
        group=group,
        condition=condition,
        for_ns=_duration(get("for"), "for", out),
        keep_firing_for_ns=_duration(get("keep_firing_for"), "keep_firing_for", out),
        labels={k: v for k, (v, _) in labels.items()},
        annotations={k: v for k, (v, _) in annotations.items()},
        description=str(description.value) if description is not None else "",
        enabled=enabled_node.value
        if enabled_node is not None and enabled_node.value is False
        else True,
        line=node.line,
        label_templates=_templates(labels, "labels", out),
        annotation_templates=_templates(annotations, "annotations", out),
    )


def rule_unit(rule: Rule) -> str:
    """The unit of a rule's value: its ``unit`` annotation, else the signal's
    (``metric_value`` has none of its own: ``ratio`` with ``divide_by``, else none)."""
    explicit = rule.annotations.get("unit")
    if explicit is not None:
        return explicit
    condition = rule.condition
    if condition.signal == "metric_value":
        return "ratio" if condition.params.get("divide_by") else ""
    signal = SIGNALS.get(condition.signal)
    return signal.unit if signal is not None else ""


def parse_rules(text: str, source: str = "") -> RuleSet:
    """Parse and validate a rule file; raise :class:`FileError` listing every problem."""
    try:
        root = load_located(text)
    except FileError as exc:
        raise FileError(exc.problems, source) from None
    out = _Collector()
    groups: list[RuleGroup] = []
    groups_node = root.get("groups") if root.is_map() else None
    if groups_node is None or not groups_node.is_list():
        raise FileError([Problem(root.line, "the file needs a `groups:` list")], source)
    for key, value in root.value.items():
        if key != "groups":
            out.add(value.line, f"unknown top-level field {key!r}")
    seen_groups: set[str] = set()
    for group_node in groups_node.value:
        if not group_node.is_map():
            out.add(group_node.line, "a group must be a mapping")
            continue
        for key, value in group_node.value.items():
            if key not in _GROUP_KEYS:
                out.add(value.line, f"unknown group field {key!r}")
        name_node = group_node.get("name")
        if name_node is None or not isinstance(name_node.value, str) or not name_node.value:
            out.add(group_node.line, "group needs `name`")
            continue
        name = name_node.value
        if name in seen_groups:
            out.add(name_node.line, f"duplicate group name {name!r}")
        seen_groups.add(name)
        interval = _duration(group_node.get("interval"), "interval", out, DEFAULT_INTERVAL_NS)
        if interval <= 0:
            out.add(group_node.line, "interval must be longer than 0s")
        rules_node = group_node.get("rules")
        if rules_node is None or not rules_node.is_list():
            out.add(group_node.line, f"group {name} needs a `rules:` list")
            continue
        rules: list[Rule] = []
        seen_rules: set[str] = set()
        for rule_node in rules_node.value:
            rule = _rule(rule_node, name, out)
            if rule is None:
                continue
            if rule.name in seen_rules:
                out.add(rule_node.line, f"duplicate alert {rule.name!r} in group {name}")
            seen_rules.add(rule.name)
            rules.append(rule)
        groups.append(RuleGroup(name, interval, tuple(rules), group_node.line))
    if out.problems:
        raise FileError(out.problems, source)
    return RuleSet(tuple(groups))


def load_rules(path: Path) -> RuleSet:
    return parse_rules(path.read_text(), source=str(path))


def merge_rule_sets(base: RuleSet, override: RuleSet) -> RuleSet:
    """``base`` with every group of ``override`` added; a group of the same name replaces
    the base group (how a deployment retunes or drops a default group)."""
    replaced = {group.name: group for group in override.groups}
    groups = [replaced.pop(group.name, group) for group in base.groups]
    groups.extend(group for group in override.groups if group.name in replaced)
    return RuleSet(tuple(groups))
