"""Out-of-range input gets a 400 naming the parameter or field, never a 5xx: times
beyond 2200, durations beyond 100 years, huge numbers (issue 11's probe findings)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stacklens.alerting.durations import MAX_DURATION_NS, parse_duration
from stacklens.api.timeparse import MAX_TIME_NS, parse_month_param, parse_time_param
from stacklens.testing import in_process_hub
from stacklens.testing.dataset import events


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with in_process_hub(tmp_path_factory.mktemp("bounds") / "data") as (hub, client):
        client.post("/v1/events", json=events())
        hub.flush()
        yield client


@pytest.mark.parametrize(
    ("path", "params", "names"),
    [
        ("/api/v1/events", {"since": "9999999999d"}, "since"),
        ("/api/v1/events", {"until": "9999-12-31T00:00:00Z"}, "until"),
        ("/api/v1/overview", {"since": "9999-12-31T00:00:00Z"}, "since"),
        ("/api/v1/overview", {"since": "9999999999d"}, "since"),
        ("/api/v1/overview", {"until": "99999999999999999999999"}, "until"),
        ("/api/v1/costs", {"since": "9999999999w"}, "since"),
        ("/api/v1/billing/export", {"month": "9999-12"}, "month"),
        ("/api/v1/billing/export", {"month": "0000-01"}, "month"),
    ],
)
def test_extreme_times_are_400(client: Any, path: str, params: dict[str, str], names: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert names in response.text


def test_backfill_since_is_bounded(client: Any) -> None:
    response = client.post("/api/v1/costs/backfill", params={"since": "9999-12-31"})
    assert response.status_code == 400 and "since" in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"monthly_usd": 12345678901234567890123},
        {"monthly_tokens": 12345678901234567890123},
        {"monthly_usd": 1e308},
        {"monthly_tokens": True},
        {"monthly_usd": "5"},
    ],
)
def test_budget_numbers_are_bounded(client: Any, body: dict[str, Any]) -> None:
    response = client.put("/api/v1/budgets/alpha", json=body)
    assert response.status_code == 400, response.text
    assert next(iter(body)) in response.text


def test_budget_integers_still_count_as_dollars(client: Any) -> None:
    response = client.put("/api/v1/budgets/alpha", json={"monthly_usd": 5, "monthly_tokens": 9})
    assert response.status_code == 200, response.text
    assert response.json()["monthly_usd"] == 5.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duration": "99999999999h"}, "duration"),
        ({"duration": "101y"}, "duration"),
        ({"endsAt": "9999-12-31T00:00:00Z"}, "endsAt"),
        ({"startsAt": "9999-12-31T00:00:00Z", "duration": "1h"}, "startsAt"),
        ({"startsAt": "2199-12-31T00:00:00Z", "duration": "99y"}, "duration"),
        ({"duration": "1h", "comment": "x" * 3000}, "comment"),
        ({"duration": "1h", "matchers": [f'a="{i}"' for i in range(51)]}, "matchers"),
    ],
)
def test_silence_fields_are_bounded(client: Any, body: dict[str, Any], field: str) -> None:
    response = client.post("/api/v1/silences", json={"matchers": ['a="b"'], **body})
    assert response.status_code == 400, response.text
    assert field in response.text


def test_console_silence_duration_is_bounded() -> None:
    # The console form uses the same parser: the bound is the parser's.
    with pytest.raises(ValueError, match="100y"):
        parse_duration("99999999999h")
    assert parse_duration("100y") == MAX_DURATION_NS


def test_the_time_parser_bounds() -> None:
    now = 1_767_225_600 * 10**9
    assert parse_time_param("15m", now) == now - 15 * 60 * 10**9
    for bad in ("9999999999d", "9999-12-31T00:00:00Z", str(MAX_TIME_NS), "57y"):
        with pytest.raises(ValueError, match="since"):
            parse_time_param(bad, now, name="since")
    assert parse_month_param("2199-12") == (2199, 12)
    with pytest.raises(ValueError, match="month"):
        parse_month_param("2200-01")
