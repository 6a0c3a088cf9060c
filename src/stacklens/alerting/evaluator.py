"""The rule evaluator (Prometheus' half of alerting): evaluates each rule group on its
interval, advances the alert state machine, persists state, keeps each rule's health,
and hands the alerts that fire and resolve to a ``notify`` function.

It knows nothing of routing, grouping, silences, inhibition or receivers: those are
the notification manager's (:mod:`stacklens.alerting.manager`), or an external
Alertmanager's (:mod:`stacklens.alerting.forwarding`), behind the ``notify`` function
given at construction (contract: :mod:`stacklens.alerting.notify`).

One SQL query per rule per cycle (:func:`stacklens.alerting.signals.build_query`),
however many series it fans out to. :meth:`Evaluator.tick` does one pass at the
injected clock's time — tests drive it with a manual clock; the hub's
:class:`~stacklens.alerting.alerting_service.AlertingService` runs it on a thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from stacklens.alerting.durations import parse_duration
from stacklens.alerting.health_probe import HealthProber
from stacklens.alerting.instruments import EvaluationMetrics
from stacklens.alerting.message_templates import format_with_unit, render_all
from stacklens.alerting.notify import Notify
from stacklens.alerting.rules import Rule, RuleGroup, RuleSet, rule_unit
from stacklens.alerting.signals import SIGNALS, build_query, compare, dimension_label
from stacklens.alerting.state import Alert, AlertState, Sample, Transition, fingerprint, step
from stacklens.alerting.statestore import AlertStateStore
from stacklens.ids import Clock, system_clock_ns
from stacklens.metadata.db import MetadataDB
from stacklens.store.base import Reader

__all__ = ["Evaluator", "RuleStatus", "series_samples"]

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


class Evaluator:
    def __init__(
        self,
        rules: RuleSet,
        *,
        reader: Reader,
        metadata: MetadataDB,
        notify: Notify,
        clock: Clock = system_clock_ns,
        metrics: EvaluationMetrics | None = None,
        prober: HealthProber | None = None,
    ) -> None:
        self.rules = rules
        self._reader = reader
        self._notify = notify
        self._clock = clock
        self.metrics = metrics if metrics is not None else EvaluationMetrics()
        self.prober = prober
        self.states = AlertStateStore(metadata)
        self.status: dict[str, RuleStatus] = {r.key: RuleStatus() for r in rules.rules()}
        keys = {r.key for r in rules.enabled_rules()}
        self.states.drop_rules_except(keys)
        self.alerts: dict[str, dict[str, Alert]] = {
            k: v for k, v in self.states.load().items() if k in keys
        }
        self._next_eval: dict[str, int] = {}
        self._health_shared = True
        self._lock = threading.RLock()

    def reload_state(self) -> None:
        """Take the alert state from the database (another replica's, when this one
        did not lead) and evaluate every group at the next pass."""
        keys = {r.key for r in self.rules.enabled_rules()}
        loaded = {k: v for k, v in self.states.load().items() if k in keys}
        health = {k: RuleStatus(**v) for k, v in self.states.load_health().items() if k in keys}
        with self._lock:
            self.alerts = loaded
            self.status.update(health)
            self._next_eval.clear()

    # -- evaluation -----------------------------------------------------------------

    def _probes(self) -> dict[str, bool]:
        if self.prober is None:
            return {}
        return {stack: result.ok for stack, result in self.prober.results().items()}

    def evaluate_rule(self, rule: Rule, now_ns: int) -> list[Transition]:
        status = self.status.setdefault(rule.key, RuleStatus())
        started = time.monotonic()
        statement, params = build_query(rule.condition, now_ns, dialect=self._reader.dialect)
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
        if status.health == "err":
            log.info("alert rule evaluation recovered", rule=rule.key)
        status.health, status.last_error = "ok", None
        status.last_evaluation_ns = now_ns
        status.evaluation_ms = (time.monotonic() - started) * 1000
        status.series = len(samples)
        return transitions

    def _failed(
        self, rule: Rule, status: RuleStatus, exc: Exception, now_ns: int
    ) -> list[Transition]:
        error = f"{type(exc).__name__}: {exc}"[:500]
        # Logged when it starts or changes, not on every tick: a store outage would
        # otherwise write one line per rule per evaluation. The failures counter and
        # the rule's health (``/api/v1/rules``) still count each one.
        if status.health != "err" or status.last_error != error:
            log.warning("alert rule evaluation failed", rule=rule.key, error=error)
        status.health, status.last_error = "err", error
        status.last_evaluation_ns = now_ns
        self.metrics.evaluation_failures.labels(rule_group=rule.group).inc()
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
        self._share_health(group)
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

    def _share_health(self, group: RuleGroup) -> None:
        """Save the group's rule health for the standby replicas. Best effort: a
        metadata database that refuses it must not stop evaluating or notifying."""
        try:
            self.states.save_health(
                {r.key: asdict(self.status[r.key]) for r in group.rules if r.enabled}
            )
        except Exception as exc:
            if self._health_shared:
                log.warning("rule health not shared", error=f"{type(exc).__name__}: {exc}")
            self._health_shared = False
        else:
            self._health_shared = True

    # -- one pass -------------------------------------------------------------------

    def tick(self) -> list[Transition]:
        """Evaluate every due group, then hand the firing and resolved alerts to
        ``notify`` (every pass, due or not: :mod:`stacklens.alerting.notify`)."""
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
            self._update_gauges(everything)
        self._notify([a for a in everything if a.state in (AlertState.FIRING, AlertState.RESOLVED)])
        return transitions

    def _update_gauges(self, alerts: list[Alert]) -> None:
        pending = sum(1 for a in alerts if a.state is AlertState.PENDING)
        firing = sum(1 for a in alerts if a.state is AlertState.FIRING)
        self.metrics.set_alerts(pending, firing)

    # -- reads ----------------------------------------------------------------------

    def all_alerts(self) -> list[Alert]:
        with self._lock:
            return [a for alerts in self.alerts.values() for a in alerts.values()]

    def active_alerts(self) -> list[Alert]:
        """Pending and firing alerts, by rule and fingerprint."""
        alerts = [
            a for a in self.all_alerts() if a.state in (AlertState.PENDING, AlertState.FIRING)
        ]
        return sorted(alerts, key=lambda a: (a.rule_key, a.fingerprint))

    def value_text(self, rule_key: str, value: float | None) -> str | None:
        """``value`` with the unit of the rule ``rule_key`` (``None`` for no value)."""
        if value is None:
            return None
        rule = next((r for r in self.rules.rules() if r.key == rule_key), None)
        return format_with_unit(value, rule_unit(rule) if rule is not None else "")

    def next_evaluation_ns(self) -> int | None:
        """When the next group is due (``None`` before the first pass)."""
        with self._lock:
            return min(self._next_eval.values(), default=None)
