"""The alerting engine's Prometheus metrics, registered on an injected registry.

- ``stacklens_alert_notifications_total{receiver,outcome}``: delivery attempts
  (outcome ``success``, ``retry`` — failed, will retry — or ``failure`` — gave up);
- ``stacklens_alerts{state}``: alerts pending and firing now;
- ``stacklens_alert_rule_evaluation_failures_total{rule_group}``: rule queries that failed.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["AlertMetrics"]


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.notifications = Counter(
            "stacklens_alert_notifications",
            "Alert notification delivery attempts, by receiver and outcome.",
            ["receiver", "outcome"],
            registry=self.registry,
        )
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
        for state in ("pending", "firing"):
            self.alerts.labels(state=state).set(0)

    def set_alerts(self, pending: int, firing: int) -> None:
        self.alerts.labels(state="pending").set(pending)
        self.alerts.labels(state="firing").set(firing)
