"""``stacklens rules check|export`` and ``stacklens silence add|list|expire``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stacklens.cli.alerts import rules, silence


def test_rules_check_ok_and_line_numbered_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(
        "groups:\n  - name: g\n    rules:\n      - {alert: A, signal: cost, threshold: 5}\n"
    )
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        signal: costs\n"
        "        threshold: 5\n"
    )
    runner = CliRunner()
    ok = runner.invoke(rules, ["check", str(good)])
    assert ok.exit_code == 0 and "OK, 1 rules" in ok.output
    failed = runner.invoke(rules, ["check", str(good), str(bad)])
    assert failed.exit_code == 1
    assert f"{bad}:5: rule A: unknown signal 'costs'" in failed.output


def test_rules_check_alerting_config(tmp_path: Path) -> None:
    path = tmp_path / "am.yml"
    path.write_text("route:\n  receiver: x\nreceivers:\n  - name: y\n")
    result = CliRunner().invoke(rules, ["check", "--config", str(path)])
    assert result.exit_code == 1 and ":2: route uses undefined receiver 'x'" in result.output


def test_rules_export_both_formats(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "rules.yml"
    result = runner.invoke(rules, ["export", "--format", "prometheus", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "not exportable: stack-health/ServiceDown" in result.output
    assert "HighLLMLatency" in out.read_text()
    am = runner.invoke(
        rules,
        ["export", "--format", "alertmanager"],
        env={"STACKLENS_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/KEY"},
    )
    assert am.exit_code == 0 and "#ai-platform-critical" in am.output and "KEY" not in am.output


def test_silence_add_list_expire(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    added = runner.invoke(
        silence,
        [
            "add",
            *data,
            'alertname="HighErrorRate"',
            "stack_name=~dev-.*",
            "--duration",
            "2h",
            "--comment",
            "deploy",
            "--author",
            "ana",
        ],
    )
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip()
    listed = runner.invoke(silence, ["list", *data, "--json"])
    [item] = json.loads(listed.output)
    assert item["id"] == silence_id and item["status"]["state"] == "active"
    assert {m["name"]: m["isRegex"] for m in item["matchers"]} == {
        "alertname": False,
        "stack_name": True,
    }
    table = runner.invoke(silence, ["list", *data])
    assert silence_id in table.output and "ana" in table.output
    assert runner.invoke(silence, ["expire", *data, silence_id[:8]]).exit_code == 0
    assert json.loads(runner.invoke(silence, ["list", *data, "--json"]).output) == []
    assert runner.invoke(silence, ["expire", *data, silence_id]).exit_code != 0
    refused = runner.invoke(silence, ["add", *data, 'alertname=~".*"'])
    assert refused.exit_code != 0 and "every alert" in refused.output
