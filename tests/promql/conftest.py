"""Fixtures of the PromQL engine tests: the dataset of
:mod:`stacklens.testing.promql` loaded into each store backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stacklens.promql.engine import PromQLEngine
from stacklens.testing.backends import BACKENDS, Backend, backend_id
from stacklens.testing.promql import EVENTS, POINTS, make_engine


@pytest.fixture(scope="module", params=BACKENDS, ids=backend_id)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    b: Backend = request.param(tmp_path_factory.mktemp("promql"))
    b.load(EVENTS[:3])
    b.load(EVENTS[3:])
    b.load(POINTS, "metrics")
    yield b
    b.store.close()


@pytest.fixture
def engine(backend: Backend) -> PromQLEngine:
    return make_engine(backend)
