"""Delivery with retries, shared by the notification manager's receivers and the
Alertmanager forwarder: exponential backoff (bounded), every attempt logged in the
notification log and counted.

Deliveries run on a small thread pool so a slow receiver never delays evaluation.
Logs name the receiver and the redacted target (scheme+host), never a secret.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

import httpx
import structlog

from stacklens.alerting.config_model import NotifyPolicy
from stacklens.alerting.instruments import DeliveryMetrics
from stacklens.alerting.notify_log import Attempt, NotificationLog
from stacklens.alerting.receivers.base import DeliveryError, SendContext
from stacklens.ids import Clock

__all__ = ["Delivery", "backoff_delays"]

log = structlog.get_logger(__name__)


def backoff_delays(policy: NotifyPolicy) -> list[float]:
    """Seconds to wait before attempt 2, 3, ...: doubling from ``backoff_initial``,
    capped at ``backoff_max``."""
    return [
        min(policy.backoff_initial_s * 2**i, policy.backoff_max_s)
        for i in range(policy.max_attempts - 1)
    ]


class Delivery:
    """A pool of delivery workers, one HTTP client, and the attempt loop."""

    def __init__(
        self,
        notify_log: NotificationLog,
        metrics: DeliveryMetrics,
        *,
        clock: Clock,
        external_url: str,
        timeout_s: float,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = 2,
    ) -> None:
        self.log = notify_log
        self.metrics = metrics
        self._clock = clock
        self._external_url = external_url
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._client = httpx.Client(follow_redirects=False)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stacklens-notify")
        self._pending: set[Future[bool]] = set()
        self._lock = threading.Lock()

    def context(self, timeout_s: float | None = None) -> SendContext:
        return SendContext(
            now_ns=self._clock(),
            external_url=self._external_url,
            timeout_s=timeout_s or self._timeout_s,
            client=self._client,
        )

    def attempts(
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
        """Run ``run`` until it succeeds, fails for good or ``policy`` gives up."""
        delays = backoff_delays(policy)
        for attempt in range(1, policy.max_attempts + 1):
            started = time.monotonic()
            error: str | None = None
            retryable = False
            try:
                run(self.context())
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

    def submit(self, task: Callable[[], bool], on_done: Callable[[], None] | None = None) -> None:
        """Run ``task`` on the pool (``on_done`` after it, whatever its outcome)."""
        future = self._pool.submit(task)
        if on_done is not None:
            future.add_done_callback(lambda _: on_done())
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

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
        self._client.close()
