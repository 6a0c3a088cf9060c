"""The notification manager's delivery of :class:`Notification` s to their receivers'
integrations, with retries (:class:`stacklens.alerting.delivery.Delivery`); the dedup
record is written only after a successful delivery."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from stacklens.alerting.config_model import AlertingConfig
from stacklens.alerting.delivery import Delivery
from stacklens.alerting.dispatch import NflogEntry, Notification
from stacklens.alerting.instruments import DeliveryMetrics
from stacklens.alerting.notify_log import NotificationLog
from stacklens.alerting.receivers import SendContext, Sender, build_sender
from stacklens.ids import Clock

__all__ = ["Notifier"]


class Notifier:
    def __init__(
        self,
        config: AlertingConfig,
        notify_log: NotificationLog,
        metrics: DeliveryMetrics,
        *,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = 2,
    ) -> None:
        self.config = config
        self.log = notify_log
        self.metrics = metrics
        self._clock = clock
        self._delivery = Delivery(
            notify_log,
            metrics,
            clock=clock,
            external_url=config.external_url,
            timeout_s=config.notify.timeout_s,
            sleep=sleep,
            workers=workers,
        )
        self._senders: dict[str, Sender] = {
            item.id: build_sender(item) for items in config.receivers.values() for item in items
        }

    def _context(self, timeout_s: float | None = None) -> SendContext:
        return self._delivery.context(timeout_s)

    def deliver(self, notification: Notification) -> bool:
        """Deliver now (with retries); on success record the dedup entry."""
        integration = notification.integration
        sender = self._senders.get(integration.id)
        if sender is None:
            return False
        ok = self._delivery.attempts(
            lambda ctx: sender.send(notification, ctx),
            receiver=integration.receiver,
            integration=integration.id,
            group_key=notification.group_key,
            status=notification.status,
            alerts=len(notification.alerts),
            target=sender.integration.target(),
            policy=self.config.notify,
        )
        if ok:
            self.log.set_entry(
                integration.id,
                notification.group_key,
                NflogEntry(notification.firing, notification.resolved, self._clock()),
            )
        return ok

    def submit(self, notification: Notification, on_done: Callable[[], None] | None = None) -> None:
        self._delivery.submit(lambda: self.deliver(notification), on_done)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for deliveries in flight (tests, shutdown)."""
        self._delivery.drain(timeout)

    def targets(self) -> Mapping[str, str]:
        return {key: sender.integration.target() for key, sender in self._senders.items()}

    def close(self) -> None:
        self._delivery.close()
