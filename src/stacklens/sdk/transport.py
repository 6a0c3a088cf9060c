"""The HTTP side of the event client: posting batches and deciding what an answer means.

``POST {url}/v1/events`` with ``X-API-Key``, gzipped NDJSON. Answers:

=================  =================================================================
200                accepted; rejected events are reported once per batch, never resent
400                nothing valid in the batch: dropped with a warning
401 / 403          the key is wrong: stop retrying, keep spilling, warn (``FATAL``)
404 / 405 / 415    the URL is wrong: same as 401 (resending cannot help)
413                split the batch in halves and post each; a single event too large
                   is dropped with a warning
429 / 5xx          back off, at least ``Retry-After``
network error      back off
=================  =================================================================
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import gzip
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpTransport", "Outcome", "PostResult", "backoff_delay", "parse_retry_after"]

_log = logging.getLogger("stacklens.sdk")
_FATAL_STATUS: Final = frozenset({401, 403, 404, 405, 415})


class Outcome(enum.Enum):
    OK = "ok"  # done with these lines (accepted, or refused for good)
    RETRY = "retry"  # try again later
    FATAL = "fatal"  # configuration is wrong; stop sending


@dataclass
class PostResult:
    outcome: Outcome
    accepted: int = 0
    rejected: int = 0
    dropped: int = 0
    retry_after: float | None = None
    error: str = ""
    #: Lines of the batch already taken (on RETRY after a 413 split, a prefix).
    done: int = field(default=0)


def parse_retry_after(
    value: str | None, now: Callable[[], dt.datetime] | None = None
) -> float | None:
    """``Retry-After`` (delta seconds or HTTP date) → seconds, ``None`` if absent/bad."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = now() if now is not None else dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())


def backoff_delay(
    failures: int,
    *,
    base: float = 0.5,
    cap: float = 30.0,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff with equal jitter, at least ``retry_after``.

    ``failures`` counts consecutive failures (1 for the first). Jitter spreads the
    retries of many stacks after a hub restart instead of having them arrive together.
    """
    ceiling = min(cap, base * 2.0 ** max(0, failures - 1))
    delay: float = ceiling / 2 + rng() * ceiling / 2
    if retry_after is not None:
        # Honoured, within reason: a hostile or broken header cannot park us for a day.
        delay = max(delay, min(retry_after, 600.0))
    return delay


class HttpTransport:
    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        compress_level: int = 5,
    ) -> None:
        # httpx is imported here, not at module import: with its CLI extra installed
        # (a server environment) ``import httpx`` pulls in click, rich and pygments,
        # which ``import stacklens.sdk`` must not.
        import httpx

        self._httpx = httpx
        self.url = url.rstrip("/") + "/v1/events"
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=2.0))
        self._owns_client = client is None
        self._headers = {
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
            "User-Agent": "stacklens-sdk",
        }
        if api_key:
            self._headers["X-API-Key"] = api_key
        self._level = compress_level
        self._warned: set[str] = set()

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            _log.warning(message, *args)

    def post(self, lines: Sequence[bytes]) -> PostResult:
        """Post ``lines``; a 413 splits the batch until the pieces fit."""
        if not lines:
            return PostResult(Outcome.OK)
        body = gzip.compress(b"\n".join(lines) + b"\n", compresslevel=self._level)
        try:
            response = self._client.post(self.url, content=body, headers=self._headers)
        except self._httpx.HTTPError as exc:
            return PostResult(Outcome.RETRY, error=f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if status == 200:
            return self._accepted(response, len(lines))
        if status == 400:
            _log.warning(
                "stacklens: hub refused a batch of %d events: %.200s", len(lines), response.text
            )
            return PostResult(Outcome.OK, dropped=len(lines), done=len(lines))
        if status == 413:
            return self._split(lines)
        if status in _FATAL_STATUS:
            self._warn_once(
                f"fatal-{status}",
                "stacklens: hub answered %d (%.200s); events are kept on disk and resent "
                "after a restart with a working STACKLENS_URL/STACKLENS_API_KEY",
                status,
                response.text,
            )
            return PostResult(Outcome.FATAL, error=f"HTTP {status}")
        return PostResult(
            Outcome.RETRY,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            error=f"HTTP {status}",
        )

    def _accepted(self, response: httpx.Response, count: int) -> PostResult:
        try:
            answer = response.json()
            accepted = int(answer.get("accepted", count))
            rejected = list(answer.get("rejected") or [])
        except (ValueError, AttributeError, TypeError):
            accepted, rejected = count, []
        if rejected:
            first = rejected[0] if isinstance(rejected[0], dict) else {}
            _log.warning(
                "stacklens: hub rejected %d of %d events (first: index %s: %.200s)",
                len(rejected),
                count,
                first.get("index"),
                first.get("error"),
            )
        return PostResult(Outcome.OK, accepted=accepted, rejected=len(rejected), done=count)

    def _split(self, lines: Sequence[bytes]) -> PostResult:
        if len(lines) == 1:
            _log.warning("stacklens: dropping one event larger than the hub accepts")
            return PostResult(Outcome.OK, dropped=1, done=1)
        middle = len(lines) // 2
        total = PostResult(Outcome.OK)
        for half in (lines[:middle], lines[middle:]):
            result = self.post(half)
            total.accepted += result.accepted
            total.rejected += result.rejected
            total.dropped += result.dropped
            if result.outcome is not Outcome.OK:
                total.outcome = result.outcome
                total.retry_after = result.retry_after
                total.error = result.error
                total.done += result.done
                return total
            total.done += len(half)
        return total

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
