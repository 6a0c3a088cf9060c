"""The retention policy a hub runs with: the ``STACKLENS_RETENTION_*`` settings, then
the policy file's ``retention:`` keys.

The policy file (``privacy_file``) holds each stack's privacy policy and, beside it,
its retention::

    default:
      content: hash
      retention: {events: 14d}        # overrides the STACKLENS_RETENTION_* settings
    stacks:
      acme:
        content: store
        retention: {events: 30d, rollups: 180d}

The privacy loader must not see ``retention`` (its policy forbids unknown fields):
:func:`split_policy_document` takes it out first. A period that cannot be used raises
:class:`~stacklens.retention.tiers.RetentionError` naming it, and the hub refuses to
start with that message.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from stacklens.config import HubConfig
from stacklens.retention.tiers import RetentionError, RetentionPolicy

__all__ = [
    "build_retention_policy",
    "config_periods",
    "load_retention_policy",
    "read_policy_document",
    "split_policy_document",
]

#: Retention sections of a policy file: the global one and each stack's.
Sections = tuple[dict[str, Any], dict[str, dict[str, Any]]]


def read_policy_document(path: Path | None) -> dict[str, Any]:
    """The policy file as a mapping (``{}`` when there is none or it is empty)."""
    if path is None:
        return {}
    document: Any = yaml.safe_load(path.read_text()) or {}
    if not isinstance(document, Mapping):
        raise RetentionError(f"{path}: the policy file must be a mapping")
    return dict(document)


def _section(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RetentionError(f"{where}retention must be a mapping of tier: period")
    return dict(value)


def split_policy_document(document: Mapping[str, Any]) -> tuple[dict[str, Any], Sections]:
    """``(the document without any retention key, (default retention, {stack:
    retention}))``: the first part is what the privacy loader reads."""
    privacy: dict[str, Any] = dict(document)
    default = dict(privacy.get("default") or {})
    default_retention = _section(default.pop("retention", None), "default: ")
    if "default" in privacy:
        privacy["default"] = default
    stacks_retention: dict[str, dict[str, Any]] = {}
    stacks: dict[str, Any] = {}
    for name, value in (privacy.get("stacks") or {}).items():
        entry = dict(value or {})
        retention = _section(entry.pop("retention", None), f"stack {name}: ")
        if retention:
            stacks_retention[str(name)] = retention
        stacks[name] = entry
    if "stacks" in privacy:
        privacy["stacks"] = stacks
    return privacy, (default_retention, stacks_retention)


def config_periods(config: HubConfig) -> dict[str, object]:
    """The global periods the settings give (``STACKLENS_RETENTION_*``)."""
    return {
        "events": config.retention_events,
        "rollups": config.retention_rollups,
        "sessions": config.retention_sessions,
        "billing": config.retention_billing,
    }


def build_retention_policy(config: HubConfig, document: Mapping[str, Any]) -> RetentionPolicy:
    """Settings, overridden by the file's ``default.retention``; each stack's
    ``retention`` overrides those for that stack. Raises :class:`RetentionError`."""
    if config.retention_interval_s <= 0:
        raise RetentionError("retention_interval_s: must be longer than 0")
    _, (default, stacks) = split_policy_document(document)
    return RetentionPolicy.build({**config_periods(config), **default}, stacks)


def load_retention_policy(config: HubConfig) -> RetentionPolicy:
    """:func:`build_retention_policy` over the configured policy file."""
    return build_retention_policy(config, read_policy_document(config.privacy_file))
