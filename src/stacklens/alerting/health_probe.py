"""Active health probes (seed 002 health checks): ``GET`` each stack's registered
``health_url`` every ``interval``; 2xx/3xx within ``timeout`` is healthy, anything else
(a 503 from the seed's ``/health``, a timeout, a refused connection) is not.

Results feed the ``stack_up`` signal (and so StackUnhealthy) together with the
heartbeat/last-seen age. URLs are logged redacted (scheme+host).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import httpx
import structlog

from stacklens.alerting.config_secrets import redact_url
from stacklens.ids import Clock

__all__ = ["HealthProber", "ProbeResult", "probe_ok"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    at_ns: int
    status_code: int | None = None
    error: str | None = None


def probe_ok(status_code: int) -> bool:
    return 200 <= status_code < 400


class HealthProber:
    """Probes ``targets()`` — ``(stack_name, health_url)`` pairs — on a thread.

    Every replica probes, standbys included, although only the leader's evaluations
    read the results: a standby that takes over must judge ``stack_up`` at its first
    evaluation with results already in hand, or a stack whose ``/health`` fails would
    look healthy for one pass and its firing StackUnhealthy be resolved by mistake.
    A few extra GETs per stack and interval are the price."""

    def __init__(
        self,
        targets: Callable[[], Iterable[tuple[str, str]]],
        *,
        clock: Clock,
        interval_s: float = 30.0,
        timeout_s: float = 5.0,
    ) -> None:
        self._targets = targets
        self._clock = clock
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._results: dict[str, ProbeResult] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(follow_redirects=False)

    def probe_once(self) -> dict[str, ProbeResult]:
        """Probe every target now; returns (and keeps) the results."""
        results: dict[str, ProbeResult] = {}
        for stack, url in self._targets():
            try:
                response = self._client.get(url, timeout=self.timeout_s)
                results[stack] = ProbeResult(
                    probe_ok(response.status_code), self._clock(), response.status_code
                )
            except httpx.HTTPError as exc:
                results[stack] = ProbeResult(False, self._clock(), error=type(exc).__name__)
            if not results[stack].ok:
                log.info(
                    "health probe failed",
                    stack=stack,
                    target=redact_url(url),
                    status=results[stack].status_code,
                    error=results[stack].error,
                )
        with self._lock:
            self._results = results
        return results

    def results(self) -> Mapping[str, ProbeResult]:
        with self._lock:
            return dict(self._results)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.probe_once()
            except Exception:  # the metadata DB may be briefly busy; try again next time
                log.exception("health probing failed")
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stacklens-probes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 5)
        self._client.close()
