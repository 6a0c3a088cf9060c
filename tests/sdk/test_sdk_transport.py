"""What each hub answer means to the sender, backoff and Retry-After."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from stacklens.sdk.transport import HttpTransport, Outcome, backoff_delay, parse_retry_after

FakeHub = Any


def lines(count: int) -> list[bytes]:
    return [b'{"event_type":"heartbeat","timestamp":%d}' % (10**18 + i) for i in range(count)]


def transport(hub: FakeHub) -> HttpTransport:
    return HttpTransport("http://hub/", "slk_key", client=hub.client())


def test_posts_gzipped_ndjson_with_the_key(fake_hub: FakeHub) -> None:
    result = transport(fake_hub).post(lines(3))
    assert result.outcome is Outcome.OK
    assert result.accepted == 3
    request = fake_hub.requests[0]
    assert str(request.url) == "http://hub/v1/events"
    assert request.headers["x-api-key"] == "slk_key"
    assert request.headers["content-type"] == "application/x-ndjson"
    assert request.headers["content-encoding"] == "gzip"
    assert len(fake_hub.events) == 3


def test_rejected_events_are_not_retried(
    fake_hub: FakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    fake_hub.behaviour = lambda request, events: httpx.Response(
        200, json={"accepted": 1, "rejected": [{"index": 1, "error": "bad"}]}
    )
    result = transport(fake_hub).post(lines(2))
    assert (result.outcome, result.accepted, result.rejected) == (Outcome.OK, 1, 1)
    assert sum("rejected 1 of 2" in r.getMessage() for r in caplog.records) == 1


def test_400_drops_the_batch(fake_hub: FakeHub) -> None:
    fake_hub.behaviour = lambda request, events: httpx.Response(400, json={"error": "no"})
    result = transport(fake_hub).post(lines(4))
    assert (result.outcome, result.dropped) == (Outcome.OK, 4)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_and_url_errors_are_fatal(fake_hub: FakeHub, status: int) -> None:
    fake_hub.behaviour = lambda request, events: httpx.Response(status)
    assert transport(fake_hub).post(lines(1)).outcome is Outcome.FATAL


def test_413_splits_until_it_fits(fake_hub: FakeHub) -> None:
    def behaviour(request: httpx.Request, events: list[Any]) -> httpx.Response | None:
        return httpx.Response(413) if len(events) > 2 else None

    fake_hub.behaviour = behaviour
    result = transport(fake_hub).post(lines(7))
    assert (result.outcome, result.accepted) == (Outcome.OK, 7)
    assert sorted(e["timestamp"] for e in fake_hub.events) == [10**18 + i for i in range(7)]


def test_413_for_one_event_drops_it(fake_hub: FakeHub) -> None:
    fake_hub.behaviour = lambda request, events: httpx.Response(413)
    result = transport(fake_hub).post(lines(2))
    assert (result.outcome, result.dropped) == (Outcome.OK, 2)


def test_503_retry_after(fake_hub: FakeHub) -> None:
    fake_hub.behaviour = lambda request, events: httpx.Response(503, headers={"Retry-After": "7"})
    result = transport(fake_hub).post(lines(1))
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 7.0)


def test_network_error_is_retried() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    result = HttpTransport("http://hub", None, client=client).post(lines(1))
    assert result.outcome is Outcome.RETRY
    assert "ConnectError" in result.error


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", lambda: now) == 30.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", lambda: now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    low = [backoff_delay(n, base=0.5, cap=30.0, rng=lambda: 0.0) for n in range(1, 10)]
    high = [backoff_delay(n, base=0.5, cap=30.0, rng=lambda: 1.0) for n in range(1, 10)]
    assert high[:4] == [0.5, 1.0, 2.0, 4.0]
    assert low[:4] == [0.25, 0.5, 1.0, 2.0]
    assert max(high) == 30.0
    assert backoff_delay(1, rng=lambda: 0.5, retry_after=12.0) == 12.0
    assert backoff_delay(1, rng=lambda: 0.5, retry_after=10**6) == 600.0
