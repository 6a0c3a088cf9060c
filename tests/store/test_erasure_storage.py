"""The store's erasure and storage methods, on every backend of the conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stacklens.retention.erasure import ERASED_USER, erasure_steps
from stacklens.schema import EventRow
from stacklens.store.base import EventQuery
from stacklens.testing.backends import BACKENDS, Backend, BackendFactory

S = 10**9
T0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z


def _row(n: int, user: str | None, **fields: object) -> EventRow:
    return EventRow(
        event_id=f"e{n}",
        ts=T0 + n * S,
        received_ns=T0 + n * S,
        stack_name="alpha",
        event_type="llm_call",
        session_id=f"s-{user}",
        user_id=user,
        model="m",
        tokens_in=10,
        cost_usd=0.5,
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture(params=BACKENDS, ids=lambda f: f.__name__)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    factory: BackendFactory = request.param
    made = factory(tmp_path)
    yield made
    made.store.close()


def test_erase_user_removes_those_users_rows_only(backend: Backend) -> None:
    backend.load([_row(1, "u_a"), _row(2, "u_a"), _row(3, "u_b"), _row(4, "raw-a"), _row(5, None)])
    store = backend.store
    steps = erasure_steps(store.dialect, ("u_a", "raw-a"))
    counts = store.erase_user(("u_a", "raw-a"), steps)
    assert counts == {
        "events": 3,
        "billing_records_anonymized": 2,  # u_a's and raw-a's day records
        "session_summaries": 2,
    }
    left = sorted(e.get("user_id", "-") for e in store.query_events(EventQuery(limit=10)))
    assert left == ["-", "u_b"]
    billing = dict(store.fetch("SELECT user_id, cost_usd FROM billing_daily ORDER BY 1").rows)
    assert billing == {"": 0.5, ERASED_USER: 1.5, "u_b": 0.5}
    assert store.erase_user(("u_a",)) == {"events": 0}


def test_storage_sums_blocks_per_table(backend: Backend) -> None:
    backend.load([_row(n, "u_a") for n in range(1, 200)])
    sizes = backend.store.storage(["events", "metric_points", "not_a_table"])
    assert sizes["not_a_table"] == 0 and sizes["metric_points"] >= 0
    assert set(sizes) == {"events", "metric_points", "not_a_table"}
    with pytest.raises(ValueError):
        backend.store.storage(["events; DROP TABLE events"])
