"""The costs page reads the projection's two windows (today, the month so far) with
its rows when the page's window holds their days, and on its own otherwise (issue 15:
one statement fewer on the 30-day costs pages). Both ways give what
:meth:`Analytics.projection` gives, on both stores.

Billing (UTC, ``NOW`` = 2026-01-15 12:00, stack alpha): 2026-01-02 $4.00 (m1), today
$1.50 (m1) + $0.50 (m2) and one unpriced call (m3); 2025-12-31 $8.00 (m1, last month).
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from stacklens.analytics import costs
from stacklens.analytics.analytics_service import Analytics
from stacklens.analytics.queries import Filters
from stacklens.schema import EventRow
from stacklens.store.dialect import DUCKDB
from stacklens.testing.backends import BACKENDS, Backend, backend_id

S = 10**9
DAY = 86400 * S
DAY0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z
NOW = DAY0 + 12 * 3600 * S


def call(event_id: str, ts: int, model: str, cost: float | None) -> EventRow:
    return EventRow(
        event_id=event_id,
        ts=ts,
        stack_name="alpha",
        event_type="llm_call",
        received_ns=NOW,
        model=model,
        provider="p",
        tokens_in=10,
        tokens_out=1,
        cost_usd=cost,
    )


ROWS = [
    call("c1", DAY0 - 13 * DAY + 3600 * S, "m1", 4.0),
    call("c2", DAY0 + 3600 * S, "m1", 1.5),
    call("c3", DAY0 + 7200 * S, "m2", 0.5),
    call("c4", DAY0 + 7300 * S, "m3", None),
    call("c5", DAY0 - 15 * DAY + 3600 * S, "m1", 8.0),
]


@pytest.fixture(scope="module", params=BACKENDS, ids=backend_id)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    loaded: Backend = request.param(tmp_path_factory.mktemp("projection"))
    loaded.load(ROWS)
    yield loaded
    loaded.store.close()


@pytest.fixture
def analytics(backend: Backend) -> Analytics:
    return Analytics(backend.store, clock=lambda: NOW)


THIRTY_DAYS = Filters(since_ns=NOW - 30 * DAY, until_ns=NOW)
WINDOWS = {
    "30 days (holds the month)": THIRTY_DAYS,
    "30 days, model m1": msgspec.structs.replace(THIRTY_DAYS, model="m1"),
    "today only": Filters(since_ns=DAY0, until_ns=NOW),
    "since the 10th": Filters(since_ns=DAY0 - 5 * DAY, until_ns=NOW),
}


@pytest.mark.parametrize("window", WINDOWS, ids=str)
@pytest.mark.parametrize("by", ["day", "model"])
def test_the_page_projection_is_the_projection(analytics: Analytics, window: str, by: str) -> None:
    f = WINDOWS[window]
    page = analytics.costs(f, by)
    assert page["projection"] == analytics.projection(f)
    assert not any(k.startswith("w") for row in page["rows"] for k in row)
    assert "w0" not in page["total"] and "total_row" not in page["total"]


def test_the_projection_by_hand(analytics: Analytics) -> None:
    # Today $2.00 (m3 unpriced, not $0), the month $6.00 (December's $8 is not in it);
    # half the day gone, 14.5 of January's 31 days.
    projection = analytics.costs(THIRTY_DAYS, "day")["projection"]
    assert projection["today_usd"] == pytest.approx(2.0)
    assert projection["daily_projection_usd"] == pytest.approx(4.0)
    assert projection["month_to_date_usd"] == pytest.approx(6.0)
    assert projection["month_end_projection_usd"] == pytest.approx(6.0 / 14.5 * 31)


def test_windows_outside_the_read_are_refused() -> None:
    month = [(DAY0 - 14 * DAY, DAY0 + DAY)]
    assert costs.windows_within(THIRTY_DAYS, month)
    assert not costs.windows_within(WINDOWS["today only"], month)
    with pytest.raises(ValueError, match="outside"):
        costs.cost_by(DUCKDB, WINDOWS["today only"], "day", mixed=(), windows=month)
