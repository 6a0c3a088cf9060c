"""The elector on an injected lock and clock, and the alerting service under it: only
the leader evaluates and notifies; a standby shows the shared alert state; a new
leader starts from the shared state and notification log, so it re-sends nothing the
old one delivered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.leader_choice import leadership_for, retry_interval_s
from stacklens.alerting.leadership import Elector, SoleLeader, Turn
from stacklens.alerting.rules import parse_rules
from stacklens.alerting.state import AlertState
from stacklens.alerting.wiring import build_alerting
from stacklens.metadata.db import MetadataDB
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import ManualClock
from stacklens.testing.alerting import Recorder, event, load

S = 10**9


class SharedLock:
    """One lock several electors compete for, as PostgreSQL's advisory lock behaves:
    one holder at a time, freed when the holder's session dies."""

    def __init__(self) -> None:
        self.holder: object | None = None

    def session(self) -> Session:
        return Session(self)


class Session:
    def __init__(self, lock: SharedLock) -> None:
        self.lock = lock
        self.tries = 0
        self.alive = True

    def try_acquire(self) -> bool:
        self.tries += 1
        if not self.alive:
            self.alive = True  # a new connection
        if self.lock.holder in (None, self):
            self.lock.holder = self
            return True
        return False

    def still_held(self) -> bool:
        return self.alive and self.lock.holder is self

    def release(self) -> None:
        if self.lock.holder is self:
            self.lock.holder = None

    def die(self) -> None:
        """The connection dropped: the server ends the session and frees the lock."""
        self.alive = False
        self.release()


def test_one_leader_standby_retries_each_interval_and_takes_over() -> None:
    clock, lock = ManualClock(), SharedLock()
    a_lock, b_lock = lock.session(), lock.session()
    a = Elector(a_lock, clock=clock, retry_interval_s=2.0)
    b = Elector(b_lock, clock=clock, retry_interval_s=2.0)
    assert a.check() is Turn.ELECTED
    assert b.check() is Turn.STANDING_BY
    assert (a.leading, b.leading) == (True, False)
    assert b.retry_delay_ns() == 2 * S
    # Within the retry interval the standby does not ask again.
    clock.advance(1.5)
    assert b.check() is Turn.STANDING_BY
    assert b_lock.tries == 1
    assert a.check() is Turn.LEADING
    # The leader's connection drops: it notices at its next check, before evaluating.
    a_lock.die()
    assert a.check() is Turn.DEPOSED
    assert not a.leading
    clock.advance(0.5)  # 2 s since b's last try
    assert b.check() is Turn.ELECTED
    assert b_lock.tries == 2
    # The old leader retries at once and finds the lock taken.
    assert a.check() is Turn.STANDING_BY
    assert (a.leading, b.leading) == (False, True)


def test_sole_leader_always_leads() -> None:
    sole = SoleLeader()
    assert sole.check() is Turn.LEADING and sole.leading
    assert sole.retry_delay_ns() is None


def test_retry_interval_is_the_shortest_group_interval_at_most_5s(tmp_path: Path) -> None:
    fast = parse_rules(RULES.replace("interval: 10s", "interval: 3s"))
    slow = parse_rules(RULES.replace("interval: 10s", "interval: 5m"))
    assert retry_interval_s(fast) == 3.0
    assert retry_interval_s(slow) == 5.0
    db = MetadataDB(f"sqlite:///{tmp_path / 'm.sqlite'}")
    assert isinstance(leadership_for(db, fast, clock=ManualClock()), SoleLeader)
    db.close()


RULES = """\
groups:
  - name: errors
    interval: 10s
    rules:
      - alert: Errors
        signal: error_count
        window: 1h
        by: [stack_name]
        op: ">"
        threshold: 2
        for: 0s
"""


def alerting(url: str) -> Any:
    return parse_alerting_config(f"""
route:
  receiver: hook
  group_by: [alertname, stack_name]
  group_wait: 0s
  group_interval: 10s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{{url: '{url}/hook'}}]
notify: {{max_attempts: 1}}
""")


def test_only_the_leader_notifies_and_a_new_leader_resends_nothing(tmp_path: Path) -> None:
    clock, lock = ManualClock(), SharedLock()
    store = DuckDBStore(tmp_path / "events.duckdb")
    db = MetadataDB(f"sqlite:///{tmp_path / 'meta.sqlite'}")
    hook = Recorder()
    a_lock, b_lock = lock.session(), lock.session()

    def replica(session: Session) -> Any:
        return build_alerting(
            parse_rules(RULES),
            alerting(hook.url),
            reader=store,
            metadata=db,
            clock=clock,
            leadership=Elector(session, clock=clock, retry_interval_s=10.0),
        )

    a, b = replica(a_lock), replica(b_lock)
    try:
        load(store, tmp_path, [event(clock() - S, "error") for _ in range(3)])
        a.tick()
        b.tick()
        a.notifier.drain()
        assert [body["groupLabels"] for body in hook.bodies] == [
            {"alertname": "Errors", "stack_name": "alpha"}
        ]
        assert a.metrics.leader._value.get() == 1 and b.metrics.leader._value.get() == 0
        # The standby evaluated nothing but shows what the leader stored: the alerts,
        # and each rule's health as of the leader's evaluation (not "unknown").
        assert b.metrics.evaluation_failures.labels(rule_group="errors")._value.get() == 0
        leader_saw = a.evaluator.status["errors/Errors"]
        assert leader_saw.health == "ok" and leader_saw.last_evaluation_ns == clock()
        assert b.evaluator.status["errors/Errors"] == leader_saw
        assert [(x["labels"]["stack_name"], x["state"]) for x in b.active_alerts()] == [
            ("alpha", AlertState.FIRING.value)
        ]
        # A second stack fires while the leader dies before evaluating it.
        load(store, tmp_path, [event(clock() - S, "error", stack="beta") for _ in range(3)])
        a_lock.die()
        clock.advance(10)
        assert a.tick() == []  # deposed at its check: evaluates and sends nothing
        b.tick()
        b.notifier.drain()
        a.notifier.drain()
        # alpha was delivered and logged by a: b does not send it again; beta it sends.
        assert [body["groupLabels"]["stack_name"] for body in hook.bodies] == ["alpha", "beta"]
        assert b.metrics.leader._value.get() == 1 and a.metrics.leader._value.get() == 0
        # The alert gauges are the leader's: alpha and beta fire; the deposed one shows 0.
        assert b.metrics.alerts.labels(state="firing")._value.get() == 2
        assert a.metrics.alerts.labels(state="firing")._value.get() == 0
        assert b.role == {"role": "leader", "election": "lock"}
        assert a.role == {"role": "standby", "election": "lock"}
    finally:
        a.stop()
        b.stop()
        hook.close()
        store.close()
        db.close()
