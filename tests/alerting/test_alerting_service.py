"""The hub's alerting (evaluator → manager) with a manual clock: for/firing/resolve,
routing to a webhook, silences, restart persistence, one query per rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from stacklens.alerting.alerting_service import AlertingService
from stacklens.alerting.config_file import parse_alerting_config
from stacklens.alerting.rules import parse_rules
from stacklens.alerting.state import AlertState
from stacklens.alerting.wiring import build_alerting
from stacklens.metadata.db import MetadataDB
from stacklens.store.base import QueryResult
from stacklens.store.dialect import DUCKDB
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing import ManualClock, wait_until
from stacklens.testing.alerting import Recorder, event, load

S = 10**9

RULES = """\
groups:
  - name: spend
    interval: 30s
    rules:
      - alert: UserSpendHigh
        signal: cost
        window: 1h
        by: [stack_name, user_id]
        op: ">"
        threshold: 10
        for: 1m
        labels: {severity: warning}
        annotations:
          summary: "{{ $labels.user_id }} spent ${{ $value }} in an hour on {{ $labels.stack_name
            }}"
"""


def config(url: str) -> Any:
    return parse_alerting_config(f"""
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 10s
  group_interval: 30s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{{url: '{url}/hook'}}]
notify: {{max_attempts: 2, backoff_initial: 1s}}
""")


class CountingReader:
    """The store's reads, each statement recorded."""

    def __init__(self, store: DuckDBStore, calls: list[str]) -> None:
        self._store = store
        self._calls = calls
        self.dialect = store.dialect

    def fetch(self, sql: str, params: Any = None) -> QueryResult:
        self._calls.append(sql)
        return self._store.fetch(sql, params)


class BareReader:
    """Reads from a DuckDB database with none of the hub's tables."""

    dialect = DUCKDB

    def __init__(self) -> None:
        import duckdb

        self._con = duckdb.connect()

    def fetch(self, sql: str, params: Any = None) -> QueryResult:
        result = self._con.cursor().execute(sql, params or {})
        return QueryResult(tuple(d[0] for d in result.description), result.fetchall())


def make_engine(
    store: DuckDBStore, db: MetadataDB, clock: ManualClock, url: str, calls: list[str] | None = None
) -> AlertingService:
    calls = calls if calls is not None else []
    return build_alerting(
        parse_rules(RULES),
        config(url),
        reader=CountingReader(store, calls),
        metadata=db,
        clock=clock,
        sleep=lambda _: None,
    )


def spend(store: DuckDBStore, tmp_path: Path, clock: ManualClock, user: str, usd: float) -> None:
    load(store, tmp_path, [event(clock() - S, "llm_call", "alpha", user_id=user, cost_usd=usd)])


def test_fires_after_for_notifies_and_resolves(
    store: DuckDBStore,
    metadata_db: MetadataDB,
    clock: ManualClock,
    recorder: Recorder,
    tmp_path: Path,
) -> None:
    calls: list[str] = []
    engine = make_engine(store, metadata_db, clock, recorder.url, calls)
    for user in range(50):  # 50 users, fan-out in one query
        spend(store, tmp_path, clock, f"u{user}", 1.0)
    spend(store, tmp_path, clock, "u7", 20.0)
    engine.tick()
    assert len(calls) == 1  # one query for the rule, whatever the fan-out
    [alert] = engine.active_alerts()
    assert (alert["state"], alert["labels"]["user_id"], alert["value"]) == ("pending", "u7", 21.0)
    assert alert["annotations"]["summary"] == "u7 spent $21 in an hour on alpha"
    clock.advance(30)
    engine.tick()
    assert engine.active_alerts()[0]["state"] == "pending"
    clock.advance(30)
    engine.tick()  # for: 1m elapsed
    assert engine.active_alerts()[0]["state"] == "firing"
    engine.notifier.drain()
    assert recorder.bodies == []  # group_wait 10s
    clock.advance(10)
    engine.tick()
    engine.notifier.drain()
    assert len(recorder.bodies) == 1
    body = recorder.bodies[0]
    assert body["status"] == "firing"
    assert body["alerts"][0]["labels"] == {
        "alertname": "UserSpendHigh",
        "severity": "warning",
        "stack_name": "alpha",
        "user_id": "u7",
    }
    # nothing new: no repeat within repeat_interval
    for _ in range(4):
        clock.advance(30)
        engine.tick()
    engine.notifier.drain()
    assert len(recorder.bodies) == 1
    # the data recovers: an hour later the window no longer holds the spend
    clock.advance(3600)
    engine.tick()
    assert engine.active_alerts() == []
    clock.advance(30)
    engine.tick()
    engine.notifier.drain()
    assert [b["status"] for b in recorder.bodies] == ["firing", "resolved"]
    assert recorder.bodies[1]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    history = engine.states.history(limit=10)
    assert [(h["previous"], h["current"]) for h in reversed(history)] == [
        ("inactive", "pending"),
        ("pending", "firing"),
        ("firing", "resolved"),
    ]
    attempts = engine.notify_log.list()
    assert {a["outcome"] for a in attempts} == {"success"}
    assert all(a["target"] == recorder.url for a in attempts)  # scheme+host only, no path
    engine.stop()


def test_restart_keeps_pending_time_and_does_not_renotify(
    store: DuckDBStore,
    metadata_db: MetadataDB,
    clock: ManualClock,
    recorder: Recorder,
    tmp_path: Path,
) -> None:
    spend(store, tmp_path, clock, "u1", 50.0)
    first = make_engine(store, metadata_db, clock, recorder.url)
    first.tick()
    clock.advance(30)
    first.tick()
    first.stop()
    # restart: pending since 30 s; 30 s later it must fire (not restart its `for`)
    second = make_engine(store, metadata_db, clock, recorder.url)
    assert second.active_alerts()[0]["state"] == "pending"
    clock.advance(30)
    second.tick()
    assert second.active_alerts()[0]["state"] == "firing"
    clock.advance(10)
    second.tick()
    second.notifier.drain()
    assert len(recorder.bodies) == 1
    second.stop()
    # restart while firing: no second notification
    third = make_engine(store, metadata_db, clock, recorder.url)
    for _ in range(5):
        clock.advance(30)
        third.tick()
    third.notifier.drain()
    assert len(recorder.bodies) == 1
    assert third.all_alerts()[0].state is AlertState.FIRING
    third.stop()


def test_silence_suppresses_and_expiry_releases(
    store: DuckDBStore,
    metadata_db: MetadataDB,
    clock: ManualClock,
    recorder: Recorder,
    tmp_path: Path,
) -> None:
    engine = make_engine(store, metadata_db, clock, recorder.url)
    silence = engine.silences.add(
        ['alertname="UserSpendHigh"', 'user_id=~"u.*"'], duration_ns=3600 * S, created_by="test"
    )
    spend(store, tmp_path, clock, "u1", 50.0)
    for _ in range(6):
        engine.tick()
        clock.advance(30)
    engine.notifier.drain()
    assert recorder.bodies == []
    assert engine.active_alerts()[0]["silenced_by"] == [silence.id]
    assert engine.silences.expire(silence.id[:8])
    clock.advance(30)
    engine.tick()
    engine.notifier.drain()
    assert len(recorder.bodies) == 1
    engine.stop()


def test_failed_delivery_is_retried_and_logged(
    store: DuckDBStore, metadata_db: MetadataDB, clock: ManualClock, tmp_path: Path
) -> None:
    failing = Recorder()
    failing.statuses = [500, 500, 500, 200]  # two attempts per flush (max_attempts: 2)
    try:
        engine = make_engine(store, metadata_db, clock, failing.url)
        spend(store, tmp_path, clock, "u1", 50.0)
        engine.tick()
        clock.advance(60)
        engine.tick()
        clock.advance(10)
        engine.tick()
        engine.notifier.drain()
        assert failing.bodies == []
        clock.advance(30)  # next group_interval: delivered on the second try
        engine.tick()
        engine.notifier.drain()
        assert len(failing.bodies) == 1
        outcomes = [a["outcome"] for a in reversed(engine.notify_log.list())]
        assert outcomes == ["retry", "failure", "retry", "success"]
        assert all("/hook" not in (a["error"] or "") for a in engine.notify_log.list())
        samples = {
            (s.labels["receiver"], s.labels["outcome"]): s.value
            for m in engine.metrics.registry.collect()
            for s in m.samples
            if s.name == "stacklens_alert_notifications_total"
        }
        assert samples == {("hook", "retry"): 2, ("hook", "failure"): 1, ("hook", "success"): 1}
        engine.stop()
    finally:
        failing.close()


def test_missing_metric_table_is_no_data_and_bad_rules_report_errors(
    metadata_db: MetadataDB, clock: ManualClock, recorder: Recorder
) -> None:
    bare = BareReader()  # no events table, no metric_points table
    rules = parse_rules(
        RULES.replace("signal: cost", "signal: metric_value\n        params: {metric: x}").replace(
            "by: [stack_name, user_id]", "by: [stack_name]"
        )
    )
    engine = build_alerting(
        rules, config(recorder.url), reader=bare, metadata=metadata_db, clock=clock
    )
    engine.tick()
    assert engine.status["spend/UserSpendHigh"].health == "ok"
    broken = build_alerting(
        parse_rules(RULES),
        config(recorder.url),
        reader=bare,
        metadata=metadata_db,
        clock=clock,
    )
    broken.tick()
    assert broken.status["spend/UserSpendHigh"].health == "err"
    engine.stop()
    broken.stop()


def test_a_pass_failing_the_same_way_logs_its_traceback_once(
    store: DuckDBStore, metadata_db: MetadataDB, clock: ManualClock, recorder: Recorder
) -> None:
    engine = make_engine(store, metadata_db, clock, recorder.url)
    passes: list[int] = []

    def tick() -> list[Any]:
        passes.append(1)
        if len(passes) <= 5:  # the metadata database is down for five passes
            raise ConnectionError("metadata database unreachable")
        return []

    engine.tick = tick  # type: ignore[method-assign]
    with capture_logs() as logs:
        engine.start(poll_s=0.01)
        try:
            wait_until(lambda: len(passes) >= 8, timeout=10)
        finally:
            engine.stop()
    events = [e["event"] for e in logs]
    assert events.count("alert engine pass failed") == 1
    assert events.count("alert engine pass recovered") == 1
    assert events.index("alert engine pass failed") < events.index("alert engine pass recovered")
