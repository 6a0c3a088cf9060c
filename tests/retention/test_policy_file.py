"""The retention policy a hub starts with: settings, the policy file's ``retention:``
keys, and the refusal to start on a period that cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from stacklens.cli.main import main
from stacklens.config import load_config
from stacklens.retention.policy_file import (
    build_retention_policy,
    load_retention_policy,
    split_policy_document,
)
from stacklens.retention.tiers import RetentionError
from stacklens.server import load_privacy_policies

DAY = 86400 * 10**9

POLICY_FILE = """\
default:
  content: hash
  retention: {events: 14d}
stacks:
  acme:
    content: store
    retention: {events: 30d, rollups: 180d}
  plain:
    content: drop
"""


def test_privacy_policies_load_from_a_file_that_also_holds_retention(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_FILE)
    default, stacks = load_privacy_policies(path)
    assert default.content == "hash"
    assert stacks["acme"].content == "store"
    assert stacks["plain"].content == "drop"


def test_settings_then_the_files_default_then_each_stack(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_FILE)
    config = load_config({"privacy_file": path}, environ={"STACKLENS_RETENTION_SESSIONS": "400d"})
    policy = load_retention_policy(config)
    assert policy.default.events == 14 * DAY  # the file's default over the 7d setting
    assert policy.default.sessions == 400 * DAY  # the setting
    assert policy.for_stack("acme").events == 30 * DAY
    assert policy.for_stack("acme").rollups == 180 * DAY
    assert policy.for_stack("acme").sessions == 400 * DAY
    assert "plain" not in policy.stacks
    assert policy.longest("events") == 30 * DAY


def test_split_leaves_the_privacy_document_without_retention() -> None:
    privacy, (default, stacks) = split_policy_document(
        {"default": {"content": "hash", "retention": {"events": "3d"}}, "stacks": {"a": None}}
    )
    assert privacy == {"default": {"content": "hash"}, "stacks": {"a": {}}}
    assert default == {"events": "3d"}
    assert stacks == {}


def test_a_tier_shorter_than_its_source_is_refused_from_the_environment() -> None:
    config = load_config(environ={"STACKLENS_RETENTION_ROLLUPS": "2d"})
    with pytest.raises(RetentionError, match=r"rollups retention \(2d\) is shorter than events"):
        build_retention_policy(config, {})
    with pytest.raises(RetentionError, match="stack acme: rollups"):
        build_retention_policy(
            load_config(environ={}), {"stacks": {"acme": {"retention": {"events": "120d"}}}}
        )
    with pytest.raises(RetentionError, match="stack acme: retention must be a mapping"):
        build_retention_policy(load_config(environ={}), {"stacks": {"acme": {"retention": "7d"}}})


def test_serve_refuses_to_start_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACKLENS_RETENTION_EVENTS", "30d")
    monkeypatch.setenv("STACKLENS_RETENTION_ROLLUPS", "10d")
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code != 0
    assert "rollups retention (10d) is shorter than events retention (30d)" in result.output
    assert not (tmp_path / "data" / "events.duckdb").exists()  # nothing was opened
