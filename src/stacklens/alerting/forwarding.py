"""Forwarding to external Alertmanagers as a notify function (:mod:`~stacklens.alerting.notify`):
what Prometheus does with its ``alerting.alertmanagers``.

:class:`AlertmanagerNotify` is given the evaluator's alerts every pass and, per target,
posts those due (:func:`~stacklens.alerting.receivers.alertmanager.needs_sending`: new,
resolved since, or not sent for ``resend_delay``) to ``/api/v2/alerts`` with the wire
code of :mod:`stacklens.alerting.receivers.alertmanager`. One attempt per pass, on a
worker: what fails stays due and goes again next pass. Every attempt is logged in the
notification log (receiver ``alertmanager``) and counted, target redacted.

Targets come from the alerting config's ``alertmanagers:`` and ``STACKLENS_ALERTMANAGER_URL``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from stacklens.alerting.config_model import ForwardTarget, NotifyPolicy
from stacklens.alerting.delivery import Delivery
from stacklens.alerting.instruments import DeliveryMetrics
from stacklens.alerting.notify_log import NotificationLog
from stacklens.alerting.receivers.alertmanager import AlertmanagerForwarder
from stacklens.alerting.receivers.base import SendContext
from stacklens.alerting.state import Alert
from stacklens.ids import Clock

__all__ = ["AlertmanagerNotify"]


class AlertmanagerNotify:
    """``notify(alerts)`` for one or more external Alertmanagers."""

    def __init__(
        self,
        targets: Sequence[ForwardTarget],
        notify_log: NotificationLog,
        metrics: DeliveryMetrics,
        *,
        clock: Clock,
        external_url: str,
        timeout_s: float = 10.0,
        workers: int = 1,
    ) -> None:
        """``timeout_s``: each request's timeout (the config's ``notify.timeout``)."""
        self._clock = clock
        self.forwarders = [AlertmanagerForwarder(t, i) for i, t in enumerate(targets)]
        self._delivery = Delivery(
            notify_log,
            metrics,
            clock=clock,
            external_url=external_url,
            timeout_s=timeout_s,
            workers=workers,
        )

    def __call__(self, alerts: Sequence[Alert]) -> None:
        now = self._clock()
        for forwarder in self.forwarders:
            due = forwarder.due(alerts, now)
            if due:
                self._delivery.submit(functools.partial(self._send, forwarder, due))

    def _send(self, forwarder: AlertmanagerForwarder, due: list[Alert]) -> bool:
        def run(ctx: SendContext) -> None:
            forwarder.send(due, ctx)

        return self._delivery.attempts(
            run,
            receiver="alertmanager",
            integration=forwarder.id,
            group_key="*",
            status="firing" if any(a.resolved_at_ns is None for a in due) else "resolved",
            alerts=len(due),
            target=forwarder.redacted_target(),
            policy=NotifyPolicy(max_attempts=1, timeout_s=forwarder.target.timeout_s),
        )

    def __repr__(self) -> str:
        return f"AlertmanagerNotify({[f.redacted_target() for f in self.forwarders]})"

    def drain(self, timeout: float = 30.0) -> None:
        self._delivery.drain(timeout)

    def close(self, timeout: float = 30.0) -> None:
        self._delivery.drain(timeout)
        self._delivery.close()
