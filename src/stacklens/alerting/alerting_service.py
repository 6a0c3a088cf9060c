"""The hub's alerting: an :class:`~stacklens.alerting.evaluator.Evaluator` whose
``notify`` feeds the :class:`~stacklens.alerting.manager.NotificationManager` (and any
external Alertmanager, :mod:`stacklens.alerting.forwarding`), ticked on one thread.

A thin facade: it owns the loop and the life cycle, and offers the reads the API and
the console make (each from the half that holds it). Build one with
:func:`stacklens.alerting.wiring.build_alerting`.

With several replicas only the :class:`~stacklens.alerting.leadership.Leadership`'s
leader evaluates, notifies and forwards; a standby re-reads the shared alert state at
each pass (its API lists what the leader stored) and, once elected, loads the alert
state and the notification log from the database before its first evaluation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import structlog

from stacklens.alerting.evaluator import Evaluator, RuleStatus
from stacklens.alerting.forwarding import AlertmanagerNotify
from stacklens.alerting.instruments import AlertMetrics
from stacklens.alerting.leadership import Leadership, SoleLeader, Turn
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
        leadership: Leadership | None = None,
    ) -> None:
        self.evaluator = evaluator
        self.leadership: Leadership = leadership if leadership is not None else SoleLeader()
        self.manager = manager
        self.forwarders = tuple(forwarders)
        self.metrics = metrics
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        metrics.leader.set(1 if self.leadership.leading else 0)

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

    @property
    def role(self) -> dict[str, str]:
        """``{"role": "leader"|"standby", "election": ...}`` (``/health`` shows it)."""
        leading = self.leadership.leading
        return {"role": "leader" if leading else "standby", "election": self.leadership.method}

    def tick(self) -> list[Transition]:
        """One pass: on the leader (checked first, every pass) the evaluator evaluates
        what is due and notifies, and the manager routes and flushes what is due; a
        standby only refreshes the alerts it shows from the shared state."""
        turn = self.leadership.check()
        self.metrics.leader.set(1 if self.leadership.leading else 0)
        if turn is Turn.ELECTED:
            # The previous leader's last word is in the database: start from it, so
            # nothing is re-notified that it delivered (the notification log) and no
            # pending alert restarts its ``for``.
            self.evaluator.reload_state()
            self.manager.reload()
        elif turn is Turn.DEPOSED:
            self.manager.stand_down()
            self.metrics.set_alerts(0, 0)  # the alert gauges are the leader's to report
        if not self.leadership.leading:
            self.evaluator.reload_state()
            return []
        return self.evaluator.tick()

    def next_wakeup_ns(self) -> int:
        retry = self.leadership.retry_delay_ns()
        if retry is not None:
            return self._clock() + retry
        candidates = [
            t
            for t in (self.evaluator.next_evaluation_ns(), self.manager.next_flush_ns())
            if t is not None
        ]
        return min(candidates, default=self._clock())

    def _run(self, poll_s: float) -> None:
        failing: str | None = None
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # keep alerting alive through a transient failure
                # The traceback once per distinct failure: a metadata database down for
                # an hour must not write one per pass.
                error = f"{type(exc).__name__}: {exc}"
                if error != failing:
                    log.exception("alert engine pass failed")
                failing = error
            else:
                if failing is not None:
                    log.info("alert engine pass recovered")
                failing = None
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
        self.leadership.close()
