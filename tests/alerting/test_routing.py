"""Routing, grouping timers, dedup and inhibition, with an injected clock."""

from __future__ import annotations

import pytest

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.dispatch import Dispatcher, NflogEntry, needs_update
from stacklens.alerting.routing import (
    InhibitRule,
    Matcher,
    group_key,
    is_inhibited,
    match_routes,
    parse_matcher,
)
from stacklens.alerting.state import Alert, AlertState, fingerprint
from stacklens.alerting.yamlnodes import FileError

S = 10**9

CONFIG = """\
route:
  receiver: default
  group_by: [alertname, stack_name]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - matchers: ['category=~"gpu|drift"']
      receiver: ml
      group_by: ['...']
    - match: {team: infra}
      receiver: infra
      routes:
        - matchers: ['alertname!~"Disk.*"']
          receiver: infra-nodisk
receivers:
  - name: default
    webhook_configs: [{url: 'http://127.0.0.1:9/default'}]
  - name: pager
    webhook_configs: [{url: 'http://127.0.0.1:9/pager', send_resolved: false}]
  - {name: ml}
  - {name: infra}
  - {name: infra-nodisk}
"""


def alert(name: str, state: AlertState = AlertState.FIRING, at: int = 0, **labels: str) -> Alert:
    full = {"alertname": name, **labels}
    return Alert(
        "g/" + name,
        fingerprint(full),
        full,
        {},
        state,
        1.0,
        at,
        at,
        fired_at_ns=at,
        resolved_at_ns=at if state is AlertState.RESOLVED else None,
    )


@pytest.fixture
def config():  # type: ignore[no-untyped-def]
    return parse_alerting_config(CONFIG)


def receivers(config, labels: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.receiver for r in match_routes(config.route, labels)]


def test_route_tree_like_alertmanager(config) -> None:  # type: ignore[no-untyped-def]
    assert receivers(config, {"alertname": "X"}) == ["default"]
    assert receivers(config, {"severity": "critical", "category": "gpu"}) == ["pager", "ml"]
    assert receivers(config, {"severity": "critical"}) == ["pager", "default"][:1]
    assert receivers(config, {"team": "infra", "alertname": "DiskFull"}) == ["infra"]
    assert receivers(config, {"team": "infra", "alertname": "CPU"}) == ["infra-nodisk"]


def test_group_key_format(config) -> None:  # type: ignore[no-untyped-def]
    labels = {"alertname": "X", "stack_name": "a", "severity": "critical"}
    pager = match_routes(config.route, labels)[0]
    assert group_key(pager, labels) == '{}/{severity="critical"}:{alertname="X", stack_name="a"}'
    ml = match_routes(config.route, {"category": "gpu", "gpu_id": "0"})[0]
    assert group_key(ml, {"category": "gpu", "gpu_id": "0"}).endswith(
        ':{category="gpu", gpu_id="0"}'
    )


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ("severity = critical", {"severity": "critical"}, True),
        ('severity!="critical"', {}, True),
        ('alertname=~"High.*"', {"alertname": "HighErrorRate"}, True),
        ('alertname=~"High"', {"alertname": "HighErrorRate"}, False),  # anchored
        ('team!~"a|b"', {"team": "c"}, True),
        ('team=""', {}, True),
    ],
)
def test_matchers(text: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_matcher(text).matches(labels) is matches


def test_bad_config_has_line_numbers() -> None:
    bad = (
        "route:\n  receiver: nowhere\n  group_wait: soon\n"
        "receivers:\n  - name: x\n    sms_configs: []\n"
    )
    with pytest.raises(FileError) as caught:
        parse_alerting_config(bad)
    lines = {p.line for p in caught.value.problems}
    assert {2, 3, 6} <= lines


def test_group_wait_interval_and_repeat(config) -> None:  # type: ignore[no-untyped-def]
    d = Dispatcher(config.route, config.integrations())
    log: dict[tuple[str, str], NflogEntry] = {}

    def flush(now: int) -> list:  # type: ignore[type-arg]
        out = d.flush_due(now, muted=lambda a: False, nflog=lambda i, k: log.get((i, k)))
        for n in out:  # delivered: record like the notifier does
            log[(n.integration.id, n.group_key)] = NflogEntry(n.firing, n.resolved, now)
        return out

    a1 = alert("HighErrorRate", at=0, stack_name="a")
    d.put([a1], 0)
    assert flush(9 * S) == []  # group_wait 10s
    first = flush(10 * S)
    assert [len(n.alerts) for n in first] == [1]
    a2 = alert("HighErrorRate", at=20 * S, stack_name="a", instance="2")
    d.put([a1, a2], 20 * S)
    assert flush(30 * S) == []  # waits for group_interval, not group_wait
    second = flush(70 * S)
    assert [len(n.alerts) for n in second] == [2]
    d.put([a1, a2], 80 * S)
    assert flush(130 * S) == []  # unchanged: no repeat before repeat_interval
    d.put([a1, a2], 3600 * S)
    assert flush(3610 * S) == []  # 3540 s since the last send
    assert len(flush(3670 * S)) == 1  # repeat_interval passed
    resolved = alert("HighErrorRate", AlertState.RESOLVED, at=3700 * S, stack_name="a")
    d.put([resolved, a2], 3700 * S)
    out = flush(3730 * S)
    assert [sorted(a.state.value for a in n.alerts) for n in out] == [["firing", "resolved"]]


def test_new_group_for_an_old_alert_flushes_at_once(config) -> None:  # type: ignore[no-untyped-def]
    d = Dispatcher(config.route, config.integrations())
    d.put([alert("X", at=0)], 3600 * S)  # e.g. after a restart
    assert d.next_due_ns() == 3600 * S


def test_dedup_rules() -> None:
    entry = NflogEntry(frozenset({"a"}), frozenset(), 0)
    kwargs = {"send_resolved": True, "repeat_interval_ns": 100, "now_ns": 50}
    assert needs_update(None, frozenset({"a"}), frozenset(), **kwargs)
    assert not needs_update(None, frozenset(), frozenset({"a"}), **kwargs)
    assert not needs_update(entry, frozenset({"a"}), frozenset(), **kwargs)
    assert needs_update(entry, frozenset({"a", "b"}), frozenset(), **kwargs)
    assert needs_update(entry, frozenset(), frozenset({"a"}), **kwargs)  # all resolved
    assert needs_update(entry, frozenset({"a"}), frozenset(), **{**kwargs, "now_ns": 100})


def test_send_resolved_false_leaves_resolved_alerts_out(config) -> None:  # type: ignore[no-untyped-def]
    d = Dispatcher(config.route, config.integrations())
    firing = alert("X", at=0, severity="critical", stack_name="a")
    other = alert("Y", AlertState.RESOLVED, at=0, severity="critical", stack_name="a")
    d.put([firing, other], 0)
    out = d.flush_due(10 * S, muted=lambda a: False, nflog=lambda i, k: None)
    pager = [n for n in out if n.integration.receiver == "pager"]
    assert all(a.state is AlertState.FIRING for n in pager for a in n.alerts)


def test_muted_alerts_are_not_sent(config) -> None:  # type: ignore[no-untyped-def]
    d = Dispatcher(config.route, config.integrations())
    d.put([alert("X", at=0)], 0)
    assert d.flush_due(10 * S, muted=lambda a: True, nflog=lambda i, k: None) == []


def test_inhibition() -> None:
    rule = InhibitRule(
        source=(Matcher("alertname", "=", "StackUnhealthy"),),
        target=(Matcher("severity", "=~", "warning|info"),),
        equal=("stack_name",),
    )
    down = {"alertname": "StackUnhealthy", "severity": "critical", "stack_name": "a"}
    firing = [(fingerprint(down), down)]
    warn_a = {"alertname": "HighErrorRate", "severity": "warning", "stack_name": "a"}
    warn_b = {**warn_a, "stack_name": "b"}
    assert is_inhibited(warn_a, fingerprint(warn_a), firing, [rule])
    assert not is_inhibited(warn_b, fingerprint(warn_b), firing, [rule])
    assert not is_inhibited(down, fingerprint(down), firing, [rule])
