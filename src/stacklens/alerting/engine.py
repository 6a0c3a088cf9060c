"""The alert engine: evaluates each rule group on its interval, advances the state
machine, persists state, routes and notifies.

One SQL query per rule per cycle (:func:`stacklens.alerting.signals.build_query`),
however many series it fans out to. :meth:`AlertEngine.tick` does one pass at the
injected clock's time — tests drive it with a manual clock; :meth:`start` runs it on
a thread against the system clock.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from stacklens.alerting.config_file import AlertingConfig
from stacklens.alerting.dispatch import Dispatcher
from stacklens.alerting.durations import parse_duration
from stacklens.alerting.health_probe import HealthProber
from stacklens.alerting.instruments import AlertMetrics
from stacklens.alerting.message_templates import format_with_unit, render_all
from stacklens.alerting.notifier import Notifier
from stacklens.alerting.notify_log import NotificationLog
from stacklens.alerting.routing import is_inhibited
from stacklens.alerting.rules import Rule, RuleGroup, RuleSet, rule_unit
from stacklens.alerting.signals import SIGNALS, build_query, compare, dimension_label
from stacklens.alerting.silences import Silence, SilenceStore, silenced_by
from stacklens.alerting.state import Alert, AlertState, Sample, Transition, fingerprint, step
from stacklens.alerting.statestore import AlertStateStore
from stacklens.ids import Clock, system_clock_ns
from stacklens.metadata.db import MetadataDB
from stacklens.store.base import Reader

__all__ = ["AlertEngine", "RuleStatus", "series_samples"]

log = structlog.get_logger(__name__)
_DEFAULT_HEARTBEAT_TIMEOUT_NS = 5 * 60 * 10**9


@dataclass
class RuleStatus:
    health: str = "unknown"  # ok | err | unknown
    last_error: str | None = None
    last_evaluation_ns: int | None = None
    evaluation_ms: float = 0.0
    series: int = 0


def series_samples(
    rule: Rule,
    rows: list[tuple[Any, ...]],
    probes: Mapping[str, bool] | None = None,
    now_ns: int = 0,
) -> dict[str, Sample]:
    """Query rows (dimensions..., value) → samples keyed by fingerprint, with the rule's
    labels and annotations rendered. ``stack_up`` merges the probe results here; its rows
    are ``(stack_name, age, regular heartbeat)``."""
    condition = rule.condition
    names = [dimension_label(d) for d in condition.by]
    if SIGNALS[condition.signal].post:
        timeout = parse_duration(str(condition.params.get("heartbeat_timeout", "5m")))
        # A stack is judged when it has shown a regular heartbeat or has a health
        # probe; any other stack (seen once, a finished session) is not "down".
        ages = {str(row[0]): float(row[1]) for row in rows if row[0] is not None}
        regular = {str(row[0]) for row in rows if row[0] is not None and row[2]}
        stacks = regular | set(probes or {})
        rows = []
        for stack in sorted(stacks):
            fresh = ages.get(stack, math.inf) * 1e9 <= timeout
            probe_ok = (probes or {}).get(stack, True)
            value = 1.0 if fresh and probe_ok else 0.0
            if compare(value, condition.op, condition.threshold):
                rows.append((stack, value))
    samples: dict[str, Sample] = {}
    for row in rows:
        series = {n: str(v) for n, v in zip(names, row[:-1], strict=True) if v not in (None, "")}
        value = float(row[-1])
        labels = dict(series)
        labels.update(render_all(rule.label_templates, series, value))
        labels["alertname"] = rule.name
        annotations = render_all(rule.annotation_templates, labels, value)
        samples[fingerprint(labels)] = Sample(labels, annotations, value, rule_unit(rule))
    return samples


class AlertEngine:
    def __init__(
        self,
        rules: RuleSet,
        config: AlertingConfig,
        *,
        reader: Reader,
        metadata: MetadataDB,
        clock: Clock = system_clock_ns,
        metrics: AlertMetrics | None = None,
        prober: HealthProber | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rules = rules
        self.config = config
        self._reader = reader
        self._clock = clock
        self.metrics = metrics if metrics is not None else AlertMetrics()
        self.prober = prober
        self.states = AlertStateStore(metadata)
        self.silences = SilenceStore(metadata, clock=clock)
        self.notify_log = NotificationLog(metadata)
        self.notifier = Notifier(config, self.notify_log, self.metrics, clock=clock, sleep=sleep)
        self.dispatcher = Dispatcher(config.route, config.integrations())
        self.status: dict[str, RuleStatus] = {r.key: RuleStatus() for r in rules.rules()}
        keys = {r.key for r in rules.enabled_rules()}
        self.states.drop_rules_except(keys)
        self.alerts: dict[str, dict[str, Alert]] = {
            k: v for k, v in self.states.load().items() if k in keys
        }
        self._next_eval: dict[str, int] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._silences_cache: list[Silence] = []
        self._inflight: set[tuple[str, str]] = set()

    # -- evaluation -----------------------------------------------------------------

    def _probes(self) -> dict[str, bool]:
        if self.prober is None:
            return {}
        return {stack: result.ok for stack, result in self.prober.results().items()}

    def evaluate_rule(self, rule: Rule, now_ns: int) -> list[Transition]:
        status = self.status.setdefault(rule.key, RuleStatus())
        started = time.monotonic()
        statement, params = build_query(rule.condition, now_ns)
        try:
            rows = self._reader.fetch(statement, params).rows
        except Exception as exc:  # a missing table or a busy store: report, keep state
            if "metric_points" in str(exc) and "does not exist" in str(exc):
                rows = []  # no OTel metric point stored yet: no data, not an error
            else:
                return self._failed(rule, status, exc, now_ns)
        samples = series_samples(rule, rows, self._probes(), now_ns)
        previous = self.alerts.get(rule.key, {})
        current, transitions = step(
            rule.key, rule.for_ns, rule.keep_firing_for_ns, previous, samples, now_ns
        )
        self.alerts[rule.key] = current
        status.health, status.last_error = "ok", None
        status.last_evaluation_ns = now_ns
        status.evaluation_ms = (time.monotonic() - started) * 1000
        status.series = len(samples)
        return transitions

    def _failed(
        self, rule: Rule, status: RuleStatus, exc: Exception, now_ns: int
    ) -> list[Transition]:
        status.health, status.last_error = "err", f"{type(exc).__name__}: {exc}"[:500]
        status.last_evaluation_ns = now_ns
        self.metrics.evaluation_failures.labels(rule_group=rule.group).inc()
        log.warning("alert rule evaluation failed", rule=rule.key, error=status.last_error)
        return []

    def evaluate_group(self, group: RuleGroup, now_ns: int) -> list[Transition]:
        transitions: list[Transition] = []
        changed: dict[str, dict[str, Alert]] = {}
        for rule in group.rules:
            if not rule.enabled:
                continue
            before = self.alerts.get(rule.key, {})
            transitions.extend(self.evaluate_rule(rule, now_ns))
            after = self.alerts.get(rule.key, {})
            if after != before:
                changed[rule.key] = after
        self.states.save(changed, transitions)
        for t in transitions:
            log.info(
                "alert state",
                rule=t.rule_key,
                labels=dict(t.labels),
                previous=t.previous.value,
                current=t.current.value,
                value=t.value,
            )
        return transitions

    # -- one pass -------------------------------------------------------------------

    def tick(self) -> list[Transition]:
        """Evaluate every due group, then route, flush due groups and forward."""
        now = self._clock()
        transitions: list[Transition] = []
        with self._lock:
            for group in self.rules.groups:
                due = self._next_eval.get(group.name, now)
                if due > now:
                    continue
                transitions.extend(self.evaluate_group(group, now))
                self._next_eval[group.name] = max(due + group.interval_ns, now + 1)
                if self._next_eval[group.name] <= now:
                    self._next_eval[group.name] = now + group.interval_ns
            everything = self.all_alerts()
            self.dispatcher.put(everything, now)
            self._silences_cache = self.silences.active()
            firing = [(a.fingerprint, a.labels) for a in everything if a.state is AlertState.FIRING]
            notifications = self.dispatcher.flush_due(
                now, muted=lambda a: self._muted(a, firing, now), nflog=self.notify_log.entry
            )
            self._update_gauges(everything)
        for notification in notifications:
            # One delivery per integration and group at a time (Alertmanager serializes a
            # group's flushes): the next flush sees the log this one writes.
            key = (notification.integration.id, notification.group_key)
            with self._lock:
                if key in self._inflight:
                    continue
                self._inflight.add(key)
            self.notifier.submit(notification, on_done=functools.partial(self._delivered, key))
        if self.notifier.forwarders:
            self.notifier.forward(everything)
        return transitions

    def _delivered(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._inflight.discard(key)

    def _muted(self, alert: Alert, firing: list[tuple[str, Mapping[str, str]]], now: int) -> bool:
        if silenced_by(alert.labels, self._silences_cache, now):
            return True
        return is_inhibited(alert.labels, alert.fingerprint, firing, self.config.inhibit_rules)

    def _update_gauges(self, alerts: list[Alert]) -> None:
        pending = sum(1 for a in alerts if a.state is AlertState.PENDING)
        firing = sum(1 for a in alerts if a.state is AlertState.FIRING)
        self.metrics.set_alerts(pending, firing)

    # -- reads (API) ----------------------------------------------------------------

    def all_alerts(self) -> list[Alert]:
        with self._lock:
            return [a for alerts in self.alerts.values() for a in alerts.values()]

    def active_alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts, with what mutes them."""
        now = self._clock()
        with self._lock:
            alerts = [
                a for a in self.all_alerts() if a.state in (AlertState.PENDING, AlertState.FIRING)
            ]
            silences = self.silences.active()
            firing = [(a.fingerprint, a.labels) for a in alerts if a.state is AlertState.FIRING]
        out = []
        for alert in sorted(alerts, key=lambda a: (a.rule_key, a.fingerprint)):
            out.append(
                {
                    "rule": alert.rule_key,
                    "fingerprint": alert.fingerprint,
                    "state": alert.state.value,
                    "labels": dict(alert.labels),
                    "annotations": dict(alert.annotations),
                    "value": alert.value,
                    "unit": alert.unit,
                    "value_text": format_with_unit(alert.value, alert.unit),
                    "active_at_ns": alert.active_at_ns,
                    "fired_at_ns": alert.fired_at_ns,
                    "silenced_by": silenced_by(alert.labels, silences, now),
                    "inhibited": is_inhibited(
                        alert.labels, alert.fingerprint, firing, self.config.inhibit_rules
                    ),
                }
            )
        return out

    def value_text(self, rule_key: str, value: float | None) -> str | None:
        """``value`` with the unit of the rule ``rule_key`` (``None`` for no value)."""
        if value is None:
            return None
        rule = next((r for r in self.rules.rules() if r.key == rule_key), None)
        return format_with_unit(value, rule_unit(rule) if rule is not None else "")

    def next_wakeup_ns(self) -> int:
        candidates = [*self._next_eval.values()]
        due = self.dispatcher.next_due_ns()
        if due is not None:
            candidates.append(due)
        return min(candidates, default=self._clock())

    # -- life cycle -----------------------------------------------------------------

    def _run(self, poll_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # keep alerting alive through a transient failure
                log.exception("alert engine pass failed")
            wait_s = (self.next_wakeup_ns() - self._clock()) / 1e9
            self._stop.wait(min(max(wait_s, 0.05), poll_s))

    def start(self, poll_s: float = 1.0) -> None:
        if self.prober is not None:
            self.prober.start()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(poll_s,), name="stacklens-alerts", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None
        if self.prober is not None:
            self.prober.stop()
        self.notifier.drain(timeout)
        self.notifier.close()
