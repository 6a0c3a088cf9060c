"""Billing records of a closed month are never rewritten: a backfill adds adjustments."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import stacklens.api.analytics  # noqa: F401  (declares the budgets table)
from stacklens.analytics.billing_close import is_closed, open_since_ns
from stacklens.analytics.pricing import PriceOverride
from stacklens.testing import ManualClock, in_process_hub
from stacklens.testing.analytics import wire
from stacklens.testing.dataset import NOW_NS, TOTAL_COST, events

S = 10**9
FEB_5 = 1_770_249_600 * S  # 2026-02-05T00:00:00Z
LLAMA = (300 * 1.0 + 100 * 2.0) / 1e6  # the unpriced llama call, priced by the override
JANUARY = {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[Any, Any, ManualClock]]:
    clock = ManualClock(NOW_NS)  # 2026-01-10: January is open
    with in_process_hub(tmp_path / "data", clock=clock) as (hub, client):
        wire(hub, client.app)
        assert client.post("/v1/events", json=events()).json()["accepted"] == 15
        hub.flush()
        hub.pricer.overrides["meta/llama-3.3-8b"] = PriceOverride(
            input_per_mtok=1.0, output_per_mtok=2.0
        )
        yield hub, client, clock


def _billing_daily(hub: Any) -> list[tuple[Any, ...]]:
    return hub.store.fetch("SELECT * FROM billing_daily ORDER BY ALL").rows


def _adjustments(hub: Any) -> list[dict[str, Any]]:
    return hub.store.fetch("SELECT * FROM billing_adjustments ORDER BY ALL").dicts()


def _january_cost(client: Any) -> float:
    body = client.get("/api/v1/costs", params={**JANUARY, "by": "day"}).json()
    return float(body["total"]["cost_usd"])


def test_closing() -> None:
    assert open_since_ns(NOW_NS) == 1_767_225_600 * S  # 2026-01-01
    assert not is_closed(NOW_NS, NOW_NS)
    assert is_closed(NOW_NS, FEB_5)
    assert not is_closed(NOW_NS, FEB_5, grace_ns=10 * 86400 * S)  # within a grace period
    assert is_closed(1_767_225_600 * S - 1, 1_767_225_600 * S)  # closes at the month's end


def test_backfill_over_a_closed_month_adds_adjustments_and_rewrites_nothing(
    loaded: tuple[Any, Any, ManualClock],
) -> None:
    hub, client, clock = loaded
    clock.now_ns = FEB_5  # January has closed
    before = _billing_daily(hub)
    response = client.post("/api/v1/costs/backfill", params={"since": "2026-01-01"})
    assert response.json() == {"examined": 4, "repriced": 1, "unpriced": 0}
    assert _billing_daily(hub) == before  # byte-identical records of the closed month
    [adjustment] = _adjustments(hub)
    assert adjustment["cost_usd"] == pytest.approx(LLAMA)
    assert adjustment["unpriced"] == -1 and adjustment["reason"] == "backfill"
    assert (adjustment["model"], str(adjustment["day"])) == ("llama-3.3-8b", "2026-01-10")
    # Queries add the adjustments to the originals.
    assert _january_cost(client) == pytest.approx(TOTAL_COST + LLAMA)
    unpriced = client.get("/api/v1/costs/unpriced", params=JANUARY).json()["models"]
    assert unpriced == []
    # The export lists the originals unchanged and the adjustment as its own line.
    text = client.get("/api/v1/billing/export", params={"month": "2026-01"}).text
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [r["record"] for r in lines] == ["billing"] * 4 + ["adjustment"]
    assert sum(float(r["cost_usd"] or 0) for r in lines[:4]) == pytest.approx(TOTAL_COST)
    last = lines[-1]
    assert float(last["cost_usd"]) == pytest.approx(LLAMA) and last["reason"] == "backfill"
    assert last["recorded_at"].startswith("2026-02-05T00:00:00") and last["calls"] == ""
    # Again: nothing changes, nothing is added.
    assert (
        client.post("/api/v1/costs/backfill", params={"since": "2026-01-01"}).json()["repriced"]
        == 0
    )
    assert len(_adjustments(hub)) == 1
    # The price withdrawn: a second adjustment takes it back; the sum is the change.
    hub.pricer.overrides.clear()
    assert (
        client.post("/api/v1/costs/backfill", params={"since": "2026-01-01"}).json()["repriced"]
        == 1
    )
    assert _billing_daily(hub) == before
    assert sum(a["cost_usd"] for a in _adjustments(hub)) == pytest.approx(0.0)
    assert _january_cost(client) == pytest.approx(TOTAL_COST)


def test_an_open_month_is_repriced_in_place(loaded: tuple[Any, Any, ManualClock]) -> None:
    hub, client, _ = loaded
    before = _billing_daily(hub)
    assert (
        client.post("/api/v1/costs/backfill", params={"since": "2026-01-01"}).json()["repriced"]
        == 1
    )
    assert _billing_daily(hub) != before
    assert _adjustments(hub) == []
    assert _january_cost(client) == pytest.approx(TOTAL_COST + LLAMA)


def test_erasure_anonymizes_adjustments(loaded: tuple[Any, Any, ManualClock]) -> None:
    hub, client, clock = loaded
    clock.now_ns = FEB_5
    client.post("/api/v1/costs/backfill", params={"since": "2026-01-01"})
    alice = hub.redactor.pseudonymize_user("alice")
    assert _adjustments(hub)[0]["user_id"] == alice
    body = client.delete("/api/v1/users/alice").json()
    assert body["billing_records_anonymized"] == 4  # 3 records + 1 adjustment
    assert _adjustments(hub)[0]["user_id"] == "~erased"
    assert _january_cost(client) == pytest.approx(TOTAL_COST + LLAMA)
