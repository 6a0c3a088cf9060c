"""Export: promtool accepts the rule file, and on the same synthetic data every exported
rule fires (or stays quiet) in Prometheus exactly when the hub's engine does; amtool
accepts the Alertmanager config."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.defaults import default_rules
from stacklens.alerting.prometheus_export import export_alertmanager_config, export_prometheus_rules
from stacklens.alerting.rules import Rule, RuleGroup, RuleSet
from stacklens.alerting.signals import dimension_label
from stacklens.alerting.state import AlertState
from stacklens.alerting.wiring import build_alerting
from stacklens.metadata.db import MetadataDB
from stacklens.schema import EventRow, MetricRow
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import ManualClock, require_binary
from stacklens.testing.alerting import add_points, event, load, point

S = 10**9
T0 = 1_767_225_600 * S
MINUTES = 30
EVAL_MIN = 20
PROMTOOL = require_binary("promtool", package="prometheus")
AMTOOL = require_binary("amtool", package="prometheus-alertmanager")
QUIET_CONFIG = "route: {receiver: none}\nreceivers: [{name: none}]\n"


@dataclass
class Data:
    events: list[EventRow] = field(default_factory=list)
    points: list[MetricRow] = field(default_factory=list)
    series: list[tuple[str, str]] = field(default_factory=list)


def per_minute(
    count: int, event_type: str, minutes: int = MINUTES, **fields: Any
) -> list[EventRow]:
    return [
        event(T0 + m * 60 * S + j * (60 * S // count), event_type, "alpha", **fields)
        for m in range(minutes)
        for j in range(count)
    ]


def counter(name: str, per_min: float, **labels: str) -> tuple[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in {"stack_name": "alpha", **labels}.items())
    return f"{name}{{{inner}}}", f"0+{per_min:g}x{MINUTES}"


def scenario(rule: Rule, positive: bool) -> Data:
    """Events (hub) and series (Prometheus) carrying the same values."""
    d = Data()
    name = rule.name
    if name == "HighErrorRate":
        n = 12 if positive else 3  # 0.2/s vs 0.05/s, threshold 0.1/s
        d.events = per_minute(n, "error")
        d.series = [counter("opencode_errors_total", n)]
    elif name == "HighErrorRatio":
        failed = 5 if positive else 0  # of 100 calls a minute; threshold 1%
        d.events = [
            e
            for i in range(100)
            for e in per_minute(1, "llm_call", model="m", duration_ms=1000.0, success=i >= failed)
        ]
        d.series = [
            counter("opencode_errors_total", failed),
            counter("opencode_response_duration_seconds_count", 100, model="m"),
        ]
    elif name == "HighToolErrorRate":
        failed = 2 if positive else 0  # of 20 tool calls a minute
        d.events = [
            e
            for i in range(20)
            for e in per_minute(1, "tool_use", tool="bash", success=i >= failed)
        ]
        d.series = [
            counter("opencode_tool_invocations_total", 20 - failed, tool="bash", success="true")
        ]
        if failed:
            d.series.append(
                counter("opencode_tool_invocations_total", failed, tool="bash", success="false")
            )
    elif name == "HighLLMLatency":
        seconds = 40 if positive else 8  # threshold p95 > 30 s
        d.events = per_minute(10, "llm_call", model="m", duration_ms=seconds * 1000.0)
        for le in ("0.5", "1", "2", "5", "10", "30", "60", "120", "+Inf"):
            rate = 10 if le == "+Inf" or float(le) >= seconds else 0
            d.series.append(
                counter("opencode_response_duration_seconds_bucket", rate, model="m", le=le)
            )
    elif name == "LLMCostSpike":
        usd = 1.0 if positive else 0.2  # per minute; threshold $10 an hour
        d.events = per_minute(1, "llm_call", model="m", cost_usd=usd)
        d.series = [counter("stacklens_cost_usd_total", usd, model="m")]
    elif name == "CacheLowHitRate":
        read = 20 if positive else 300  # per call, with 100 input tokens; threshold 50%
        d.events = per_minute(10, "llm_call", model="m", tokens_in=100, tokens_cache_read=read)
        d.series = [
            counter("opencode_tokens_total", 1000, model="m", direction="input"),
            counter("opencode_tokens_total", read * 10, model="m", direction="cache_read"),
        ]
    elif name == "StackUnhealthy":
        minutes = 5 if positive else MINUTES  # heartbeats stop after 5 minutes
        d.events = per_minute(1, "heartbeat", minutes=minutes)
        # what /metrics shows: up while the last event is at most 5 minutes old
        values = "1x9 0x20" if positive else f"1x{MINUTES}"
        d.series = [('stacklens_stack_up{stack_name="alpha"}', values)]
    elif rule.condition.signal == "metric_value":
        c = rule.condition
        value = c.threshold * (1.2 if positive else 0.5)
        labels: dict[str, str] = {}
        attributes: dict[str, str] = {}
        for dim in c.by:
            if dim == "stack_name":
                continue
            if dim == "service":
                labels["service"] = "api"
            else:
                attributes[dimension_label(dim)] = "x1"
                labels[dimension_label(dim)] = "x1"
        pairs = [(c.params["metric"], value * 100 if c.params.get("divide_by") else value)]
        if c.params.get("divide_by"):
            pairs.append((c.params["divide_by"], 100.0))
        for metric, v in pairs:
            d.points += [
                point(T0 + i * 30 * S, metric, v, service=labels.get("service"), **attributes)
                for i in range(MINUTES * 2)
            ]
            inner = ",".join(f'{k}="{val}"' for k, val in {"stack_name": "alpha", **labels}.items())
            d.series.append((f"{metric}{{{inner}}}", f"{v:g}+0x{MINUTES}"))
    else:
        raise AssertionError(f"no scenario for {name}")
    return d


def hub_fires(rule: Rule, data: Data, tmp_path: Path) -> list[dict[str, str]]:
    """Run the hub's engine over the data every 30 s; the labels firing at EVAL_MIN."""
    tmp_path.mkdir(parents=True)
    store = DuckDBStore(tmp_path / "events.duckdb", memory_limit="64MB", threads=1)
    db = MetadataDB(f"sqlite:///{tmp_path / 'm.sqlite'}")
    clock = ManualClock(T0)
    try:
        if data.events:
            load(store, tmp_path, data.events)
        if data.points:
            add_points(store, tmp_path, data.points)
        rules = RuleSet((RuleGroup(rule.group, 30 * S, (rule,)),))
        engine = build_alerting(
            rules,
            parse_alerting_config(QUIET_CONFIG),
            reader=store,
            metadata=db,
            clock=clock,
        )
        for _ in range(EVAL_MIN * 2 + 1):
            engine.tick()
            clock.advance(30)
        engine.stop()
        return [dict(a.labels) for a in engine.all_alerts() if a.state is AlertState.FIRING]
    finally:
        store.close()
        db.close()


def exportable_rules() -> list[Rule]:
    _, skipped = export_prometheus_rules(default_rules())
    skip = {key for key, _ in skipped}
    return [r for r in default_rules().rules() if r.key not in skip]


def test_exported_rules_pass_promtool_check(tmp_path: Path) -> None:
    text, skipped = export_prometheus_rules(default_rules())
    path = tmp_path / "rules.yml"
    path.write_text(text)
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert {key for key, _ in skipped} == {
        "stack-health/ServiceDown",
        "llm/HighResponseTime",
        "llm/HighGatewayLatency",
    }
    assert len(exportable_rules()) == 18


def test_per_user_rules_are_listed_as_not_exportable() -> None:
    from stacklens.alerting.rules import parse_rules

    rules = parse_rules("""
groups:
  - name: spend
    rules:
      - {alert: UserDailySpend, signal: cost, window: 1d, by: [stack_name, user_id], threshold: 50}
      - {alert: Events, signal: event_count, threshold: 5}
""")
    text, skipped = export_prometheus_rules(rules)
    reasons = dict(skipped)
    assert (
        "user" in reasons["spend/UserDailySpend"]
        and "cardinality" in reasons["spend/UserDailySpend"]
    )
    assert "spend/Events" in reasons
    assert "UserDailySpend" in text.split("groups:")[0]  # listed in the header


def test_prometheus_and_the_hub_fire_on_the_same_data(tmp_path: Path) -> None:
    text, _ = export_prometheus_rules(default_rules())
    document = yaml.safe_load(text)
    for group in document["groups"]:
        for item in group["rules"]:
            item.pop("annotations", None)  # $value differs by rate() extrapolation; labels must not
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(document))
    tests = []
    checked = []
    for rule in exportable_rules():
        for positive in (True, False):
            data = scenario(rule, positive)
            firing = hub_fires(rule, data, tmp_path / f"{rule.name}-{positive}")
            if positive:
                assert len(firing) == 1, (rule.name, firing)
            else:
                assert firing == [], (rule.name, firing)
            tests.append(
                {
                    "interval": "1m",
                    "input_series": [{"series": s, "values": v} for s, v in data.series],
                    "alert_rule_test": [
                        {
                            "eval_time": f"{EVAL_MIN}m",
                            "alertname": rule.name,
                            "exp_alerts": [{"exp_labels": labels} for labels in firing],
                        }
                    ],
                }
            )
            checked.append((rule.name, positive))
    test_file = tmp_path / "rules_test.yml"
    test_file.write_text(
        yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests})
    )
    result = subprocess.run(
        [PROMTOOL, "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(checked) == 36


ALL_RECEIVERS = """\
global:
  smtp_smarthost: 'smtp.example.com:587'
  smtp_from: 'alerts@example.com'
  smtp_auth_username: alerts
  smtp_auth_password: '${SMTP_PASSWORD}'
route:
  receiver: default
  group_by: [alertname, stack_name]
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - {match_re: {category: 'gpu|drift'}, receiver: ml, group_by: ['...']}
receivers:
  - name: default
    email_configs: [{to: 'team@example.com'}]
    webhook_configs: [{url: 'https://hooks.example.com/alerts?token=abc', max_alerts: 10}]
  - name: pager
    pagerduty_configs: [{routing_key: '${PD_KEY}', severity: critical}]
  - name: ml
    slack_configs:
      - api_url: 'https://hooks.slack.com/services/T0/B0/XYZ'
        channel: '#ai-platform-gpu'
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [stack_name]
"""


@pytest.mark.parametrize("which", ["default", "all-receivers"])
def test_exported_alertmanager_config_passes_amtool(tmp_path: Path, which: str) -> None:
    env = {
        "SMTP_PASSWORD": "hunter2-smtp",
        "PD_KEY": "pd-routing-key-123",
        "STACKLENS_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/SECRET",
    }
    from stacklens.alerting.config_file import DEFAULT_CONFIG

    source = DEFAULT_CONFIG if which == "default" else ALL_RECEIVERS
    config = parse_alerting_config(source, environ=env)
    text = export_alertmanager_config(config)
    for secret in (*env.values(), "token=abc", "XYZ"):
        assert secret not in text
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    result = subprocess.run(
        [AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    exported = yaml.safe_load(text)
    assert exported["route"]["routes"][0]["continue"] is True
    with_secrets = export_alertmanager_config(config, include_secrets=True)
    assert ("pd-routing-key-123" in with_secrets) is (which == "all-receivers")
