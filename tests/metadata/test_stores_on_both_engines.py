"""Every store of the metadata database, on SQLite and on PostgreSQL: ``metadata_db``
(tests/conftest.py) runs each test once per engine. Keys and stacks: test_keys.py;
silences: tests/alerting/test_silences.py."""

from __future__ import annotations

import math
import threading

import pytest

from stacklens.alerting.dispatch import NflogEntry
from stacklens.alerting.notify_log import Attempt, NotificationLog
from stacklens.alerting.silences import SilenceStore
from stacklens.alerting.state import Alert, AlertState, Transition
from stacklens.alerting.statestore import AlertStateStore
from stacklens.analytics.budgets import BudgetStore
from stacklens.metadata import KeyRing, MetadataDB
from stacklens.retention.audit import ErasureAudit, ErasureRecord
from stacklens.testing import ManualClock
from stacklens.web.session import SessionStore

S = 10**9


def _alert(rule: str, fingerprint: str, state: AlertState, value: float) -> Alert:
    return Alert(
        rule_key=rule,
        fingerprint=fingerprint,
        labels={"alertname": rule.rsplit("/", maxsplit=1)[-1], "stack_name": "alpha"},
        annotations={"summary": "high"},
        state=state,
        value=value,
        active_at_ns=10 * S,
        last_true_ns=20 * S,
        fired_at_ns=15 * S if state is AlertState.FIRING else None,
    )


def _transition(rule: str, at: int, previous: AlertState, current: AlertState) -> Transition:
    return Transition(rule, "f1", {"alertname": "A"}, previous, current, at * S, 1.5)


def test_alert_states_round_trip_and_history_is_newest_first(metadata_db: MetadataDB) -> None:
    store = AlertStateStore(metadata_db)
    firing = _alert("g/A", "f1", AlertState.FIRING, 0.25)
    pending = _alert("g/A", "f2", AlertState.PENDING, math.inf)
    other = _alert("g/B", "f1", AlertState.PENDING, -3.0)
    store.save(
        {"g/A": {"f1": firing, "f2": pending}, "g/B": {"f1": other}},
        [
            _transition("g/A", 1, AlertState.INACTIVE, AlertState.PENDING),
            _transition("g/A", 2, AlertState.PENDING, AlertState.FIRING),
            _transition("g/B", 3, AlertState.INACTIVE, AlertState.PENDING),
        ],
    )
    loaded = store.load()
    assert loaded == {"g/A": {"f1": firing, "f2": pending}, "g/B": {"f1": other}}
    assert loaded["g/A"]["f2"].value == math.inf
    # A rule's series are replaced as a whole: f2 is gone, f1 resolved.
    resolved = _alert("g/A", "f1", AlertState.INACTIVE, 0.0)
    store.save({"g/A": {"f1": resolved}}, [])
    assert store.load()["g/A"] == {"f1": resolved}
    history = store.history()
    assert [(h["rule_key"], h["at_ns"] // S) for h in history] == [
        ("g/B", 3),
        ("g/A", 2),
        ("g/A", 1),
    ]
    assert [h["current"] for h in store.history(rule_key="g/A", limit=1)] == ["firing"]
    assert [h["at_ns"] // S for h in store.history(since_ns=2 * S)] == [3, 2]
    store.drop_rules_except(["g/B"])
    assert set(store.load()) == {"g/B"}


def _attempt(at: int, receiver: str, outcome: str, error: str | None = None) -> Attempt:
    return Attempt(
        at * S, receiver, "webhook/0", "{}:{alertname=A}", "firing", 1, 1, outcome,
        "http://127.0.0.1", error, 12.5,
    )  # fmt: skip


def test_notification_log_lists_newest_first_and_filters(metadata_db: MetadataDB) -> None:
    log = NotificationLog(metadata_db)
    log.record(_attempt(1, "ops", "failure", "boom"))
    log.record(_attempt(2, "ops", "success"))
    log.record(_attempt(3, "dev", "success"))
    assert [(a["receiver"], a["at_ns"] // S) for a in log.list()] == [
        ("dev", 3),
        ("ops", 2),
        ("ops", 1),
    ]
    assert [a["at_ns"] // S for a in log.list(receiver="ops", outcome="success")] == [2]
    assert [a["error"] for a in log.list(outcome="failure")] == ["boom"]
    assert [a["at_ns"] // S for a in log.list(limit=2)] == [3, 2]


def test_a_long_error_with_a_nul_is_kept_shortened(metadata_db: MetadataDB) -> None:
    log = NotificationLog(metadata_db)
    log.record(_attempt(1, "ops", "failure", "bad\x00byte " + "e" * 3000))
    (stored,) = log.list()
    assert len(stored["error"]) == 2000  # the column's length
    assert stored["error"].startswith("bad\ufffdbyte eee") and stored["error"].endswith("…")


def test_nflog_entry_is_replaced_in_place_and_survives_a_restart(
    metadata_db: MetadataDB,
) -> None:
    log = NotificationLog(metadata_db)
    log.set_entry("webhook/0", "g1", NflogEntry(frozenset({"a"}), frozenset(), 1 * S))
    log.set_entry("webhook/0", "g1", NflogEntry(frozenset({"a", "b"}), frozenset({"c"}), 2 * S))
    log.set_entry("webhook/0", "g2", NflogEntry(frozenset({"z"}), frozenset(), 3 * S))
    reopened = NotificationLog(metadata_db)
    assert reopened.entry("webhook/0", "g1") == NflogEntry(
        frozenset({"a", "b"}), frozenset({"c"}), 2 * S
    )
    assert reopened.entry("webhook/0", "g2") == NflogEntry(frozenset({"z"}), frozenset(), 3 * S)
    assert reopened.entry("webhook/1", "g1") is None


def test_budgets_set_update_list_and_delete(metadata_db: MetadataDB) -> None:
    clock = ManualClock()
    budgets = BudgetStore(metadata_db.engine, clock=clock)
    budgets.set("beta", monthly_usd=10.0, monthly_tokens=None)
    budgets.set("alpha", monthly_usd=None, monthly_tokens=5_000_000_000)  # beyond int32
    clock.advance(1)
    updated = budgets.set("beta", monthly_usd=None, monthly_tokens=7)
    listed = budgets.list()
    assert [(b.stack_name, b.monthly_usd, b.monthly_tokens) for b in listed] == [
        ("alpha", None, 5_000_000_000),
        ("beta", None, 7),
    ]
    assert listed[1].updated_ns == updated.updated_ns == clock.now_ns
    assert [b.stack_name for b in budgets.list(("beta",))] == ["beta"]
    assert budgets.delete("beta") and not budgets.delete("beta")
    assert [b.stack_name for b in budgets.list()] == ["alpha"]


def test_budgets_set_at_once_by_many_writers_leave_one_row(metadata_db: MetadataDB) -> None:
    # Two replicas setting the same budget at once: each write is one upsert, so none
    # fails on the primary key and the stack has exactly one budget afterwards.
    budgets = BudgetStore(metadata_db.engine, clock=ManualClock())
    writers, errors = 8, []
    barrier = threading.Barrier(writers)

    def write(n: int) -> None:
        barrier.wait()
        try:
            budgets.set("alpha", monthly_usd=float(n + 1), monthly_tokens=None)
        except Exception as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    (only,) = budgets.list()
    assert only.stack_name == "alpha" and only.monthly_usd in {float(n + 1) for n in range(8)}


def test_console_sessions_follow_their_key(metadata_db: MetadataDB) -> None:
    clock = ManualClock()
    ring = KeyRing(metadata_db, clock=clock)
    record, key = ring.create("read", stack="alpha")
    principal = ring.authenticate(key)
    assert principal is not None
    sessions = SessionStore(metadata_db.engine, clock=clock, ttl_s=60)
    first, second = sessions.create(principal), sessions.create(principal)
    got = sessions.get(first.session_id)
    assert got is not None and got.principal == principal
    sessions.delete(first.session_id)
    assert sessions.get(first.session_id) is None
    assert sessions.get(second.session_id) is not None
    clock.advance(61)
    assert sessions.get(second.session_id) is None  # expired
    third = sessions.create(principal)
    assert ring.revoke(record.key_id)
    assert sessions.get(third.session_id) is None  # the key's revocation ends it
    assert sessions.end_key_sessions(record.key_id) == 1  # the expired one was swept


def test_erasure_audit_keeps_order_and_counts(metadata_db: MetadataDB) -> None:
    audit = ErasureAudit(metadata_db.engine)
    audit.record(ErasureRecord("01B", 5 * S, "k1", "u" * 64, {"events": 3, "billing": 1}))
    audit.record(ErasureRecord("01A", 5 * S, "k1", "v" * 64, {"events": 0}))
    audit.record(ErasureRecord("01C", 4 * S, "k2", "w" * 64, {}))
    assert [(r.audit_id, r.counts) for r in audit.list()] == [
        ("01C", {}),
        ("01A", {"events": 0}),
        ("01B", {"events": 3, "billing": 1}),
    ]


def test_silence_expires_by_an_upper_case_prefix(metadata_db: MetadataDB) -> None:
    clock = ManualClock()
    silences = SilenceStore(metadata_db, clock=clock)
    created = silences.add(['alertname="A"'], duration_ns=3600 * S)
    assert silences.expire(created.id[:8].upper())
    assert silences.list(include_expired=False) == []


def test_a_silence_comment_too_long_for_its_column_is_refused(metadata_db: MetadataDB) -> None:
    silences = SilenceStore(metadata_db, clock=ManualClock())
    with pytest.raises(ValueError, match="comment: at most 2000"):
        silences.add(['alertname="A"'], duration_ns=S, comment="c" * 2001)
    assert silences.list() == []
