"""The notification manager (Alertmanager's half of alerting): routes the alerts a
``notify`` call brings (:mod:`stacklens.alerting.notify`) through the route tree into
aggregation groups, flushes them on ``group_wait``/``group_interval``/``repeat_interval``,
leaves out silenced and inhibited alerts, dedups against the notification log and
delivers to the receivers' integrations with retries.

It never reads rules or the store: fed alerts by hand it routes, groups, silences and
inhibits the same. Groups are flushed when :meth:`NotificationManager.notify` runs;
the hub's loop also wakes at :meth:`NotificationManager.next_flush_ns`, and the
evaluator's pass then calls ``notify`` again.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from stacklens.alerting.config_model import AlertingConfig
from stacklens.alerting.dispatch import Dispatcher
from stacklens.alerting.instruments import DeliveryMetrics
from stacklens.alerting.notifier import Notifier
from stacklens.alerting.notify_log import NotificationLog
from stacklens.alerting.routing import is_inhibited
from stacklens.alerting.silences import Silence, SilenceStore, silenced_by
from stacklens.alerting.state import Alert, AlertState
from stacklens.ids import Clock, system_clock_ns
from stacklens.metadata.db import MetadataDB

__all__ = ["Muting", "NotificationManager"]


@dataclass(frozen=True)
class Muting:
    """What mutes one alert's notifications now."""

    silenced_by: list[str]
    inhibited: bool


class NotificationManager:
    def __init__(
        self,
        config: AlertingConfig,
        *,
        metadata: MetadataDB,
        clock: Clock = system_clock_ns,
        metrics: DeliveryMetrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        notify_log: NotificationLog | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self.metrics = metrics if metrics is not None else DeliveryMetrics()
        self.silences = SilenceStore(metadata, clock=clock)
        self.notify_log = notify_log if notify_log is not None else NotificationLog(metadata)
        self.notifier = Notifier(config, self.notify_log, self.metrics, clock=clock, sleep=sleep)
        self.dispatcher = Dispatcher(config.route, config.integrations())
        self._lock = threading.RLock()
        self._silences_cache: list[Silence] = []
        self._inflight: set[tuple[str, str]] = set()

    def notify(self, alerts: Sequence[Alert]) -> None:
        """Take the sender's current firing and resolved alerts into their groups, then
        flush the groups that are due and deliver (on workers)."""
        now = self._clock()
        with self._lock:
            self.dispatcher.put(alerts, now)
            self._silences_cache = self.silences.active()
            firing = [(a.fingerprint, a.labels) for a in alerts if a.state is AlertState.FIRING]
            notifications = self.dispatcher.flush_due(
                now, muted=lambda a: self._muted(a, firing, now), nflog=self.notify_log.entry
            )
        for notification in notifications:
            # One delivery per integration and group at a time (Alertmanager serializes a
            # group's flushes): the next flush sees the log this one writes.
            key = (notification.integration.id, notification.group_key)
            with self._lock:
                if key in self._inflight:
                    continue
                self._inflight.add(key)
            self.notifier.submit(notification, on_done=functools.partial(self._delivered, key))

    def _delivered(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._inflight.discard(key)

    def _muted(self, alert: Alert, firing: list[tuple[str, Mapping[str, str]]], now: int) -> bool:
        if silenced_by(alert.labels, self._silences_cache, now):
            return True
        return is_inhibited(alert.labels, alert.fingerprint, firing, self.config.inhibit_rules)

    def muting(self, alerts: Sequence[Alert]) -> list[Muting]:
        """For each of ``alerts``: the active silences matching it and whether a firing
        alert among ``alerts`` inhibits it (what the alerts API and console show)."""
        now = self._clock()
        silences = self.silences.active()
        firing = [(a.fingerprint, a.labels) for a in alerts if a.state is AlertState.FIRING]
        return [
            Muting(
                silenced_by(a.labels, silences, now),
                is_inhibited(a.labels, a.fingerprint, firing, self.config.inhibit_rules),
            )
            for a in alerts
        ]

    def reload(self) -> None:
        """Start over from the shared notification log (on taking the leadership): the
        aggregation groups are rebuilt from the next ``notify``."""
        with self._lock:
            self.notify_log.reload()
            self.dispatcher.groups.clear()

    def stand_down(self) -> None:
        """Forget the aggregation groups (on losing the leadership); deliveries already
        on the workers finish, with the same idempotency key the new leader would use."""
        with self._lock:
            self.dispatcher.groups.clear()

    def next_flush_ns(self) -> int | None:
        with self._lock:
            return self.dispatcher.next_due_ns()

    def close(self, timeout: float = 30.0) -> None:
        """Wait for deliveries in flight, then release the workers."""
        self.notifier.drain(timeout)
        self.notifier.close()
