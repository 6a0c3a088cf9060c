"""Rule files: parsing, line-numbered validation, templating, defaults."""

from __future__ import annotations

import pytest

from stacklens.alerting.defaults import default_rules, effective_rules
from stacklens.alerting.durations import format_duration, parse_duration
from stacklens.alerting.message_templates import TemplateError, compile_template, humanize
from stacklens.alerting.rules import parse_rules
from stacklens.alerting.yamlnodes import FileError

GOOD = """\
groups:
  - name: spend
    interval: 1m
    rules:
      - alert: UserDailySpend
        signal: cost
        window: 1d
        by: [stack_name, user_id]
        where: {model: [gpt-4o, o3], provider: {"!=": azure}}
        op: ">"
        threshold: 50
        for: 0s
        keep_firing_for: 10m
        labels: {severity: warning}
        annotations:
          summary: "{{ $labels.user_id }} spent ${{ $value | printf \\"%.2f\\" }} today"
"""


def test_parses_a_rule_with_every_field() -> None:
    rule = parse_rules(GOOD).rules()[0]
    assert rule.key == "spend/UserDailySpend"
    assert rule.condition.signal == "cost"
    assert rule.condition.window_ns == parse_duration("1d")
    assert rule.condition.by == ("stack_name", "user_id")
    assert [(f.dimension, f.op, f.value) for f in rule.condition.where] == [
        ("model", "in", ("gpt-4o", "o3")),
        ("provider", "!=", "azure"),
    ]
    assert rule.keep_firing_for_ns == 600 * 10**9
    text = rule.annotation_templates["summary"].render({"user_id": "u1"}, 51.234)
    assert text == "u1 spent $51.23 today"


def test_every_problem_is_reported_with_its_line() -> None:
    bad = """\
groups:
  - name: g
    interval: 5x
    rules:
      - alert: A
        signal: no_such_signal
        threshold: 1
      - alert: B
        signal: cost
        threshold: high
      - alert: C
        signal: error_rate
        threshold: 1
        by: [nonsense_dimension]
      - alert: D
        signal: error_rate
        threshold: 1
        annotations:
          summary: "{{ $labels.x | toUpper }}"
      - alert: E
        expr: rate(x[5m]) > 1
        signal: error_rate
        threshold: 1
        surprise: 1
"""
    with pytest.raises(FileError) as caught:
        parse_rules(bad, source="bad.yml")
    lines = {p.line: p.message for p in caught.value.problems}
    assert "interval" in lines[3]
    assert "no_such_signal" in lines[6]
    assert "threshold must be a number" in lines[10]
    assert "nonsense_dimension" in lines[12]
    assert "toUpper" in lines[19]
    assert "expr" in lines[21]
    assert "surprise" in lines[24]
    assert str(caught.value).splitlines()[0].startswith("bad.yml:3:")


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(FileError) as caught:
        parse_rules("groups:\n  - name: g\n    rules: [\n")
    assert caught.value.problems[0].line >= 3


def test_signal_parameters_are_checked() -> None:
    text = """\
groups:
  - name: g
    rules:
      - alert: A
        signal: latency_quantile
        params: {quantile: 1.5}
        threshold: 1
      - alert: B
        signal: metric_value
        threshold: 1
      - alert: C
        signal: stack_up
        by: [stack_name, model]
        threshold: 0
"""
    with pytest.raises(FileError) as caught:
        parse_rules(text)
    messages = " ".join(p.message for p in caught.value.problems)
    assert "quantile must be" in messages
    assert "needs parameter 'metric'" in messages
    assert "per stack" in messages


@pytest.mark.parametrize(
    ("source", "labels", "value", "expected"),
    [
        ("{{ $value }}", {}, 12.0, "12"),
        ("{{ $value }}", {}, 0.25, "0.25"),
        ("{{ $value | humanize }}", {}, 1234567.0, "1.235M"),
        ("{{ humanize $value }}", {}, 0.00123, "1.23m"),
        ("{{ $value | humanizePercentage }}", {}, 0.256, "25.6%"),
        ("{{ $value | humanizeDuration }}", {}, 3725.0, "1h 2m 5s"),
        ("{{$labels.stack_name}}/{{ $labels.missing }}", {"stack_name": "a"}, 0.0, "a/"),
    ],
)
def test_template_subset(source: str, labels: dict[str, str], value: float, expected: str) -> None:
    assert compile_template(source).render(labels, value) == expected


@pytest.mark.parametrize("source", ["{{ .Labels }}", "{{ $value | a | b }}", "{{ $x }}", "{{ oops"])
def test_unsupported_templates_are_errors(source: str) -> None:
    with pytest.raises(TemplateError):
        compile_template(source)


def test_humanize_matches_prometheus() -> None:
    assert humanize(0) == "0"
    assert humanize(999) == "999"
    assert humanize(1000) == "1k"


def test_durations_round_trip() -> None:
    assert parse_duration("1h30m") == 5400 * 10**9
    assert format_duration(parse_duration("1d2h")) == "1d2h"
    assert parse_duration("0") == 0
    for bad in ("5", "m5", "5m1h", "1.5h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_defaults_cover_the_seed_rules() -> None:
    rules = {r.name: r for r in default_rules().rules()}
    expected = {
        "StackUnhealthy": ("stack_up", 0, 300, "critical"),
        "HighErrorRate": ("error_rate", 0.1, 600, "warning"),
        "HighLLMLatency": ("latency_quantile", 30, 300, "warning"),
        "LLMCostSpike": ("cost", 10, 300, "warning"),
        "CacheLowHitRate": ("cache_hit_ratio", 0.5, 600, "info"),
        "ServiceDown": ("last_seen_age", 120, 60, "critical"),
        "HighResponseTime": ("latency_quantile", 10, 300, "warning"),
        "HighGPUUtilization": ("metric_value", 90, 300, "warning"),
        "HighDriftScore": ("metric_value", 0.25, 60, "critical"),
        "BudgetExceeded": ("metric_value", 1, 60, "critical"),
        "HighRequestQueueDepth": ("metric_value", 100, 300, "warning"),
    }
    for name, (signal, threshold, for_s, severity) in expected.items():
        rule = rules[name]
        assert (
            rule.condition.signal,
            rule.condition.threshold,
            rule.for_ns // 10**9,
            rule.labels["severity"],
        ) == (signal, threshold, for_s, severity), name
        assert rule.description and rule.annotations["summary"]
    assert all(r.enabled for r in rules.values())


def test_a_rule_file_replaces_a_default_group(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "rules.yml"
    path.write_text(GOOD.replace("name: spend", "name: llm"))
    merged = effective_rules(path)
    llm = next(g for g in merged.groups if g.name == "llm")
    assert [r.name for r in llm.rules] == ["UserDailySpend"]
    assert any(g.name == "errors" for g in merged.groups)
