"""The packaged default rules (``defaults.yaml``): the seed rules with their
thresholds and severities, on by default."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from stacklens.alerting.rules import RuleSet, load_rules, merge_rule_sets, parse_rules

__all__ = ["default_rules", "default_rules_text", "effective_rules"]


def default_rules_text() -> str:
    return resources.files("stacklens.alerting").joinpath("defaults.yaml").read_text()


def default_rules() -> RuleSet:
    return parse_rules(default_rules_text(), source="defaults.yaml")


def effective_rules(path: Path | None, *, defaults: bool = True) -> RuleSet:
    """The defaults (unless turned off) with the rule file at ``path`` merged in: a
    group of the same name replaces the default group."""
    base = default_rules() if defaults else RuleSet()
    if path is None:
        return base
    return merge_rule_sets(base, load_rules(path))
