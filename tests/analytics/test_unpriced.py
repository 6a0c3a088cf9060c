"""Unpriced is not free (issue 12 item 4): a model without a known price has no cost —
NULL in the API and the exports, "unpriced" in the console — and is counted apart."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from stacklens.testing import ADMIN_KEY
from stacklens.testing.dataset import NOW_NS

WINDOW = {"since": "2026-01-10T10:00:00Z", "until": "2026-01-10T12:00:00Z"}
LLAMA = "llama-3.3-8b"  # unknown to genai-prices (one call in the dataset)


def get(client: Any, path: str, **params: Any) -> Any:
    response = client.get(path, params={**WINDOW, **params})
    assert response.status_code == 200, response.text
    return response.json()


def another_llama_call(hub: Any, client: Any) -> None:
    """A second batch: the rollup's merge adds it to the first one's row."""
    event = {
        "timestamp": NOW_NS - 30 * 60 * 10**9,
        "event_type": "llm_call",
        "stack_name": "alpha",
        "user_id": "alice",  # the same billing record as the dataset's llama call
        "data": {
            "provider": "meta",
            "model": LLAMA,
            "agent": "sisyphus",
            "tokens_in": 50,
            "tokens_out": 5,
        },
    }
    assert client.post("/v1/events", json=[event]).json()["accepted"] == 1
    hub.flush()


def test_cost_api_reports_null_cost_and_counts_unpriced_apart(loaded: tuple[Any, Any]) -> None:
    hub, client = loaded
    another_llama_call(hub, client)
    body = get(client, "/api/v1/costs", by="model")
    llama = next(r for r in body["rows"] if r["model"] == LLAMA)
    assert (llama["cost_usd"], llama["unpriced"], llama["calls"]) == (None, 2, 2)
    assert body["total"]["unpriced"] == 2
    # the dataset's llama call 300 in / 100 out, this one 50 in / 5 out
    assert (llama["unpriced_tokens_in"], llama["unpriced_tokens_out"]) == (350, 105)
    assert (body["total"]["unpriced_tokens_in"], body["total"]["unpriced_tokens_out"]) == (350, 105)
    mini = next(r for r in body["rows"] if r["model"] == "gpt-4o-mini")
    assert mini["unpriced_tokens_in"] == 0
    assert body["total"]["cost_usd"] > 0  # priced calls keep their figure
    tokens = {r["model"]: r for r in get(client, "/api/v1/overview")["tokens_by_model"]}
    assert tokens[LLAMA]["cost_usd"] is None and tokens[LLAMA]["unpriced"] == 2
    assert tokens["gpt-4o-mini"]["cost_usd"] > 0
    # a window without any call costs $0, it is not "unpriced"
    empty = client.get(
        "/api/v1/costs", params={"since": "2025-06-01T00:00:00Z", "until": "2025-06-02T00:00:00Z"}
    ).json()
    assert (empty["total"]["cost_usd"], empty["total"]["unpriced"]) == (0, 0)


def test_billing_export_leaves_unpriced_cost_empty(loaded: tuple[Any, Any]) -> None:
    hub, client = loaded
    another_llama_call(hub, client)
    response = client.get("/api/v1/billing/export", params={"month": "2026-01"})
    rows = list(csv.DictReader(io.StringIO(response.text)))
    llama = [r for r in rows if r["model"] == LLAMA]
    assert [(r["cost_usd"], r["unpriced"], r["calls"]) for r in llama] == [("", "2", "2")]
    claude = next(r for r in rows if r["model"] == "claude-sonnet-4-20250514")
    assert float(claude["cost_usd"]) > 0
    import pyarrow.parquet as pq

    parquet = client.get("/api/v1/billing/export", params={"month": "2026-01", "format": "parquet"})
    table = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
    assert next(r for r in table if r["model"] == LLAMA)["cost_usd"] is None


def test_console_shows_unpriced_not_zero_dollars(loaded: tuple[Any, Any]) -> None:
    _, client = loaded
    client.headers.pop("X-API-Key", None)
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    client.post("/login", data={"csrf": csrf.group(1), "key": ADMIN_KEY, "next": "/costs"})
    for page in ("/costs", "/"):
        html = client.get(page, params={**WINDOW, "by": "model"}).text
        row = re.search(rf'data-(?:key|model)="{re.escape(LLAMA)}".*?</tr>', html, re.S)
        assert row, html[:400]
        assert "unpriced" in row.group(0) and "$0.00" not in row.group(0)


def test_every_demo_model_has_a_price() -> None:
    from stacklens.analytics.pricing import Pricer
    from stacklens.testing.fleet import MODELS

    pricer = Pricer()
    unpriced = [m for p, m, _ in MODELS if pricer.price(p, m, tokens_in=1000) is None]
    assert unpriced == []
