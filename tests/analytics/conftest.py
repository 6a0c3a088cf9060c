from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import stacklens.api.analytics  # noqa: F401  (declares the budgets table before create_all)
from stacklens.testing import ManualClock, in_process_hub
from stacklens.testing.analytics import wire
from stacklens.testing.dataset import NOW_NS, events


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW_NS)


@pytest.fixture
def wired(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[Any, Any]]:
    with in_process_hub(tmp_path / "data", clock=clock) as (hub, client):
        wire(hub, client.app)
        yield hub, client


@pytest.fixture
def loaded(wired: tuple[Any, Any]) -> tuple[Any, Any]:
    hub, client = wired
    response = client.post("/v1/events", json=events())
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events())
    hub.flush()
    return hub, client
