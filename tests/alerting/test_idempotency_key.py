"""A notification's idempotency key: the same for every attempt at one notification
(a retry, a new leader's re-send: same content, same log entry followed), different
for the next one; carried as the webhook's ``Idempotency-Key`` and the email's
``Message-ID``."""

from __future__ import annotations

from pathlib import Path

from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.dispatch import Dispatcher, Integration, NflogEntry, Notification
from stacklens.alerting.receivers.email import email_message
from stacklens.alerting.rules import parse_rules
from stacklens.alerting.state import Alert, AlertState
from stacklens.alerting.wiring import build_alerting
from stacklens.metadata.db import MetadataDB
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import ManualClock
from stacklens.testing.alerting import event, load
from stacklens.testing.replicas import WebhookSink

S = 10**9


def alert(fp: str) -> Alert:
    return Alert(
        rule_key="g/A",
        fingerprint=fp,
        labels={"alertname": "A", "fp": fp},
        annotations={},
        state=AlertState.FIRING,
        value=1.0,
        active_at_ns=0,
        last_true_ns=0,
        fired_at_ns=0,
    )


def notification(fps: set[str], previous: int | None) -> Notification:
    hook = Integration("team/webhook/0", "team")
    return Notification(
        hook,
        "{}:{}",
        {},
        tuple(alert(fp) for fp in sorted(fps)),
        frozenset(fps),
        frozenset(),
        previous_sent_ns=previous,
    )


def test_same_notification_same_key_next_one_new_key() -> None:
    first = notification({"a"}, None)
    assert notification({"a"}, None).idempotency_key == first.idempotency_key
    assert len(first.idempotency_key) == 32
    # A changed set, or the same set after a delivery was logged: another notification.
    assert notification({"a", "b"}, None).idempotency_key != first.idempotency_key
    assert notification({"a"}, 5).idempotency_key != first.idempotency_key
    assert notification({"a"}, 5).idempotency_key == notification({"a"}, 5).idempotency_key


def test_dispatcher_keys_follow_the_notification_log() -> None:
    config = parse_alerting_config(
        "route: {receiver: team, group_wait: 0s, repeat_interval: 1h}\n"
        "receivers: [{name: team, webhook_configs: [{url: 'http://127.0.0.1:9/h'}]}]\n"
    )
    log: dict[tuple[str, str], NflogEntry] = {}

    def flush(now: int) -> list[Notification]:
        dispatcher = Dispatcher(config.route, config.integrations())  # a fresh leader's
        dispatcher.put([alert("a")], now)
        return dispatcher.flush_due(now, muted=lambda _: False, nflog=lambda i, g: log.get((i, g)))

    [before] = flush(10 * S)
    [again] = flush(20 * S)  # nothing logged in between: the same notification
    assert again.idempotency_key == before.idempotency_key
    log[(before.integration.id, before.group_key)] = NflogEntry(frozenset({"a"}), frozenset(), 30)
    assert flush(40 * S) == []  # delivered and logged: not re-sent
    [repeat] = flush(30 + 3600 * S)  # repeat_interval later: a new notification
    assert repeat.previous_sent_ns == 30
    assert repeat.idempotency_key != before.idempotency_key


def test_webhook_and_email_carry_the_key(tmp_path: Path) -> None:
    sink = WebhookSink()
    clock = ManualClock()
    store = DuckDBStore(tmp_path / "events.duckdb")
    db = MetadataDB(f"sqlite:///{tmp_path / 'meta.sqlite'}")
    engine = build_alerting(
        parse_rules(
            "groups: [{name: g, interval: 10s, rules: [{alert: E, signal: error_count,"
            " window: 1h, op: '>', threshold: 0}]}]\n"
        ),
        parse_alerting_config(
            "route: {receiver: team, group_wait: 0s}\n"
            f"receivers: [{{name: team, webhook_configs: [{{url: '{sink.url}/h'}}]}}]\n"
        ),
        reader=store,
        metadata=db,
        clock=clock,
    )
    try:
        load(store, tmp_path, [event(clock() - S, "error")])
        engine.tick()
        engine.notifier.drain()
        [received] = sink.received
        [entry] = engine.notify_log.list(limit=1)
        assert entry["outcome"] == "success"
        expected = Notification(
            Integration("team/webhook/0", "team"),
            received.body["groupKey"],
            {},
            (),
            frozenset(a["fingerprint"] for a in received.body["alerts"]),
            frozenset(),
        ).idempotency_key
        assert received.key == expected
    finally:
        engine.stop()
        sink.close()
        store.close()
        db.close()
    message = email_message(notification({"a"}, None), {"to": "x@example.com"}, "http://hub")
    assert (
        message["Message-ID"] == f"<{notification({'a'}, None).idempotency_key}@stacklens.alerts>"
    )
