"""The hub's alerting: an :class:`~stacklens.alerting.evaluator.Evaluator` whose
``notify`` feeds the :class:`~stacklens.alerting.manager.NotificationManager` (and any
external Alertmanager, :mod:`stacklens.alerting.forwarding`), ticked on one thread.

A thin facade: it owns the loop and the life cycle, and offers the reads the API and
the console make (each from the half that holds it). Build one with
:func:`stacklens.alerting.wiring.build_alerting`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import structlog

from stacklens.alerting.evaluator import Evaluator, RuleStatus
from stacklens.alerting.forwarding import AlertmanagerNotify
from stacklens.alerting.instruments import AlertMetrics
from stacklens.alerting.manager import NotificationManager
from stacklens.alerting.message_templates import format_with_unit
from stacklens.alerting.notifier import Notifier
from stacklens.alerting.notify_log import NotificationLog
from stacklens.alerting.rules import RuleSet
from stacklens.alerting.silences import SilenceStore
from stacklens.alerting.state import Alert, Transition
from stacklens.alerting.statestore import AlertStateStore
from stacklens.ids import Clock

__all__ = ["AlertingService"]

log = structlog.get_logger(__name__)


class AlertingService:
    def __init__(
        self,
        evaluator: Evaluator,
        manager: NotificationManager,
        *,
        metrics: AlertMetrics,
        clock: Clock,
        forwarders: Sequence[AlertmanagerNotify] = (),
    ) -> None:
        self.evaluator = evaluator
        self.manager = manager
        self.forwarders = tuple(forwarders)
        self.metrics = metrics
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the API and console read ---------------------------------------------

    @property
    def rules(self) -> RuleSet:
        return self.evaluator.rules

    @property
    def status(self) -> dict[str, RuleStatus]:
        return self.evaluator.status

    @property
    def states(self) -> AlertStateStore:
        return self.evaluator.states

    @property
    def silences(self) -> SilenceStore:
        return self.manager.silences

    @property
    def notify_log(self) -> NotificationLog:
        return self.manager.notify_log

    @property
    def notifier(self) -> Notifier:
        return self.manager.notifier

    def all_alerts(self) -> list[Alert]:
        return self.evaluator.all_alerts()

    def value_text(self, rule_key: str, value: float | None) -> str | None:
        return self.evaluator.value_text(rule_key, value)

    def active_alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (the evaluator's), with what mutes them (the
        manager's)."""
        alerts = self.evaluator.active_alerts()
        return [
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
                "silenced_by": muting.silenced_by,
                "inhibited": muting.inhibited,
            }
            for alert, muting in zip(alerts, self.manager.muting(alerts), strict=True)
        ]

    # -- the loop -------------------------------------------------------------------

    def tick(self) -> list[Transition]:
        """One pass: the evaluator evaluates what is due and notifies; the manager
        routes and flushes what is due."""
        return self.evaluator.tick()

    def next_wakeup_ns(self) -> int:
        candidates = [
            t
            for t in (self.evaluator.next_evaluation_ns(), self.manager.next_flush_ns())
            if t is not None
        ]
        return min(candidates, default=self._clock())

    def _run(self, poll_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # keep alerting alive through a transient failure
                log.exception("alert engine pass failed")
            wait_s = (self.next_wakeup_ns() - self._clock()) / 1e9
            self._stop.wait(min(max(wait_s, 0.05), poll_s))

    def start(self, poll_s: float = 1.0) -> None:
        if self.evaluator.prober is not None:
            self.evaluator.prober.start()
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
        if self.evaluator.prober is not None:
            self.evaluator.prober.stop()
        self.manager.close(timeout)
        for forwarder in self.forwarders:
            forwarder.close(timeout)
