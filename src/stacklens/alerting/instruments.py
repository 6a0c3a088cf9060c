"""The alerting Prometheus metrics, registered on an injected registry.

The evaluator's (:class:`EvaluationMetrics`):

- ``stacklens_alerts{state}``: alerts pending and firing now;
- ``stacklens_alert_rule_evaluation_failures_total{rule_group}``: rule queries that failed;
- ``stacklens_alerting_leader``: 1 on the replica running the alert engine, 0 on a standby.

Delivery's (:class:`DeliveryMetrics`, the notification manager and the Alertmanager
forwarder):

- ``stacklens_alert_notifications_total{receiver,outcome}``: delivery attempts
  (outcome ``success``, ``retry`` — failed, will retry — or ``failure`` — gave up).

:class:`AlertMetrics` is both, on one registry (what a hub registers).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["AlertMetrics", "DeliveryMetrics", "EvaluationMetrics"]


class EvaluationMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.alerts = Gauge(
            "stacklens_alerts",
            "Alerts currently pending or firing, by state.",
            ["state"],
            registry=self.registry,
        )
        self.evaluation_failures = Counter(
            "stacklens_alert_rule_evaluation_failures",
            "Alert rule evaluations whose query failed, by rule group.",
            ["rule_group"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "stacklens_alerting_leader",
            "1 on the replica that runs the alert engine (evaluation, notification), "
            "0 on a standby.",
            registry=self.registry,
        )
        for state in ("pending", "firing"):
            self.alerts.labels(state=state).set(0)

    def set_alerts(self, pending: int, firing: int) -> None:
        self.alerts.labels(state="pending").set(pending)
        self.alerts.labels(state="firing").set(firing)


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.notifications = Counter(
            "stacklens_alert_notifications",
            "Alert notification delivery attempts, by receiver and outcome.",
            ["receiver", "outcome"],
            registry=self.registry,
        )


class AlertMetrics(EvaluationMetrics, DeliveryMetrics):
    """Every alerting metric on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        shared = registry if registry is not None else CollectorRegistry()
        EvaluationMetrics.__init__(self, shared)
        DeliveryMetrics.__init__(self, shared)
