"""The notification manager on its own, fed alerts by hand (no rules, no store): it
routes, groups, silences and inhibits, delivering to real webhooks on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.manager import NotificationManager
from stacklens.alerting.state import Alert, AlertState, fingerprint
from stacklens.metadata.db import MetadataDB
from stacklens.testing import ManualClock
from stacklens.testing.alerting import Recorder

S = 10**9


def alert(name: str, clock: ManualClock, **labels: str) -> Alert:
    full = {"alertname": name, **labels}
    return Alert(
        "hand/" + name,
        fingerprint(full),
        full,
        {"summary": name},
        AlertState.FIRING,
        1.0,
        active_at_ns=clock(),
        last_true_ns=clock(),
        fired_at_ns=clock(),
    )


@pytest.fixture
def pager() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


@pytest.fixture
def manager(
    metadata_db: MetadataDB, clock: ManualClock, recorder: Recorder, pager: Recorder
) -> Iterator[NotificationManager]:
    config = parse_alerting_config(f"""
route:
  receiver: team
  group_by: [alertname, stack_name]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 1h
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
receivers:
  - name: team
    webhook_configs: [{{url: '{recorder.url}/team'}}]
  - name: pager
    webhook_configs: [{{url: '{pager.url}/pager'}}]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [stack_name]
""")
    m = NotificationManager(config, metadata=metadata_db, clock=clock, sleep=lambda _: None)
    yield m
    m.close()


def test_manager_alone_routes_groups_silences_and_inhibits(
    manager: NotificationManager, clock: ManualClock, recorder: Recorder, pager: Recorder
) -> None:
    a1 = alert("Slow", clock, stack_name="alpha", severity="warning", model="m1")
    a2 = alert("Slow", clock, stack_name="alpha", severity="warning", model="m2")
    b = alert("Slow", clock, stack_name="beta", severity="warning")
    quiet = alert("Noisy", clock, stack_name="beta", severity="warning")
    manager.silences.add(['alertname="Noisy"'], duration_ns=3600 * S)
    batch = [a1, a2, b, quiet]
    manager.notify(batch)
    manager.notifier.drain()
    assert recorder.bodies == [] and pager.bodies == []  # group_wait
    clock.advance(10)
    manager.notify(batch)
    manager.notifier.drain()
    groups = {
        body["groupKey"]: sorted(a["labels"].get("model", "") for a in body["alerts"])
        for body in recorder.bodies
    }
    # grouped by alertname+stack_name; the silenced alert's group is never sent
    assert groups == {
        '{}:{alertname="Slow", stack_name="alpha"}': ["m1", "m2"],
        '{}:{alertname="Slow", stack_name="beta"}': [""],
    }
    assert pager.bodies == []
    # a critical alert on alpha goes to the pager, and inhibits alpha's warnings
    crit = alert("Down", clock, stack_name="alpha", severity="critical")
    a3 = alert("Slow", clock, stack_name="alpha", severity="warning", model="m3")
    batch = [a1, a2, a3, b, quiet, crit]
    sent_before = len(recorder.bodies)
    for _ in range(2):
        clock.advance(60)
        manager.notify(batch)
        manager.notifier.drain()
    assert [b["receiver"] for b in pager.bodies] == ["pager"]
    assert pager.bodies[0]["alerts"][0]["labels"]["alertname"] == "Down"
    assert len(recorder.bodies) == sent_before  # m3 joined alpha's group but is inhibited
    muting = manager.muting(batch)
    assert [m.inhibited for m in muting] == [True, True, True, False, False, False]
    assert [bool(m.silenced_by) for m in muting] == [False, False, False, False, True, False]
