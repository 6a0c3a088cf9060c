"""Delivery with retries: exponential backoff (bounded), every attempt logged and
counted; the dedup record is written only after a successful delivery.

Deliveries run on a small thread pool so a slow receiver never delays evaluation.
Logs name the receiver and the redacted target (scheme+host), never a secret.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait

import httpx
import structlog

from stacklens.alerting.config_file import AlertingConfig, NotifyPolicy
from stacklens.alerting.dispatch import NflogEntry, Notification
from stacklens.alerting.instruments import AlertMetrics
from stacklens.alerting.notify_log import Attempt, NotificationLog
from stacklens.alerting.receivers import DeliveryError, SendContext, Sender, build_sender
from stacklens.alerting.receivers.alertmanager import AlertmanagerForwarder
from stacklens.alerting.state import Alert
from stacklens.ids import Clock

__all__ = ["Notifier", "backoff_delays"]

log = structlog.get_logger(__name__)


def backoff_delays(policy: NotifyPolicy) -> list[float]:
    """Seconds to wait before attempt 2, 3, ...: doubling from ``backoff_initial``,
    capped at ``backoff_max``."""
    return [
        min(policy.backoff_initial_s * 2**i, policy.backoff_max_s)
        for i in range(policy.max_attempts - 1)
    ]


class Notifier:
    def __init__(
        self,
        config: AlertingConfig,
        notify_log: NotificationLog,
        metrics: AlertMetrics,
        *,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = 2,
    ) -> None:
        self.config = config
        self.log = notify_log
        self.metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._client = httpx.Client(follow_redirects=False)
        self._senders: dict[str, Sender] = {
            item.id: build_sender(item) for items in config.receivers.values() for item in items
        }
        self.forwarders = [AlertmanagerForwarder(t, i) for i, t in enumerate(config.forward)]
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stacklens-notify")
        self._pending: set[Future[bool]] = set()
        self._lock = threading.Lock()

    def _context(self, timeout_s: float | None = None) -> SendContext:
        return SendContext(
            now_ns=self._clock(),
            external_url=self.config.external_url,
            timeout_s=timeout_s or self.config.notify.timeout_s,
            client=self._client,
        )

    def _attempts(
        self,
        run: Callable[[SendContext], None],
        *,
        receiver: str,
        integration: str,
        group_key: str,
        status: str,
        alerts: int,
        target: str,
        policy: NotifyPolicy,
    ) -> bool:
        delays = backoff_delays(policy)
        for attempt in range(1, policy.max_attempts + 1):
            started = time.monotonic()
            error: str | None = None
            retryable = False
            try:
                run(self._context())
                outcome = "success"
            except DeliveryError as exc:
                error, retryable = str(exc), exc.retryable
            except Exception as exc:  # a bug in a sender must not kill the loop
                error, retryable = f"{type(exc).__name__}", False
            if error is not None:
                last = attempt == policy.max_attempts or not retryable
                outcome = "failure" if last else "retry"
            self.log.record(
                Attempt(
                    at_ns=self._clock(),
                    receiver=receiver,
                    integration=integration,
                    group_key=group_key,
                    status=status,
                    alerts=alerts,
                    attempt=attempt,
                    outcome=outcome,
                    target=target,
                    error=error,
                    duration_ms=(time.monotonic() - started) * 1000,
                )
            )
            self.metrics.notifications.labels(receiver=receiver, outcome=outcome).inc()
            if outcome == "success":
                return True
            log.warning(
                "alert notification failed",
                receiver=receiver,
                integration=integration,
                target=target,
                attempt=attempt,
                outcome=outcome,
                error=error,
            )
            if outcome == "failure":
                return False
            self._sleep(delays[attempt - 1])
        return False

    def deliver(self, notification: Notification) -> bool:
        """Deliver now (with retries); on success record the dedup entry."""
        integration = notification.integration
        sender = self._senders.get(integration.id)
        if sender is None:
            return False
        ok = self._attempts(
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
        future = self._pool.submit(self.deliver, notification)
        if on_done is not None:
            future.add_done_callback(lambda _: on_done())
        self._track(future)

    def forward(self, alerts: list[Alert]) -> None:
        """Send what is due to each configured Alertmanager (one attempt; what fails
        stays due and goes again next cycle)."""
        for forwarder in self.forwarders:
            due = forwarder.due(alerts, self._clock())
            if not due:
                continue
            single = NotifyPolicy(max_attempts=1, timeout_s=forwarder.target.timeout_s)

            def run(
                ctx: SendContext, f: AlertmanagerForwarder = forwarder, d: list[Alert] = due
            ) -> None:
                f.send(d, ctx)

            def task(
                f: AlertmanagerForwarder = forwarder,
                d: list[Alert] = due,
                r: Callable[[SendContext], None] = run,
                p: NotifyPolicy = single,
            ) -> bool:
                return self._attempts(
                    r,
                    receiver="alertmanager",
                    integration=f.id,
                    group_key="*",
                    status="firing" if any(a.resolved_at_ns is None for a in d) else "resolved",
                    alerts=len(d),
                    target=f.redacted_target(),
                    policy=p,
                )

            self._track(self._pool.submit(task))

    def _track(self, future: Future[bool]) -> None:
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[bool]) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for deliveries in flight (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)

    def targets(self) -> Mapping[str, str]:
        return {key: sender.integration.target() for key, sender in self._senders.items()}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
        self._client.close()
