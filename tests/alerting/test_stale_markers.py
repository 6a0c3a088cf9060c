"""Stale markers (remote-written ``kind = 'stale'`` points, no value) in the signal
catalog, on every store backend: ``metric_value``'s ``last`` ends a series there (and a
ratio whose either side ended), the other aggregates see no value in them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stacklens.alerting.signals import Condition, build_query
from stacklens.schema import MetricRow
from stacklens.testing.backends import BACKENDS, Backend, backend_id

S = 10**9
NOW = 1_796_000_000 * S
BY = ("stack_name", "attributes.gpu_id")


def pt(ident: str, seconds_ago: int, name: str, value: float | None, gpu: str) -> MetricRow:
    return MetricRow(
        point_id=ident,
        ts=NOW - seconds_ago * S,
        stack_name="alpha",
        name=name,
        kind="gauge" if value is not None else "stale",
        service="gpu-exporter",
        attributes=f'{{"gpu_id":"{gpu}"}}',
        value=value,
    )


POINTS = [
    pt("a", 60, "gpu_utilization_percent", 99.0, "0"),
    pt("b", 20, "gpu_utilization_percent", None, "0"),  # gpu 0 ended after its 99
    pt("c", 60, "gpu_utilization_percent", 98.0, "1"),
    pt("d", 40, "gpu_utilization_percent", None, "1"),
    pt("e", 30, "gpu_utilization_percent", 97.0, "1"),  # gpu 1 came back
    pt("f", 10, "gpu_memory_used_bytes", 9.5, "0"),
    pt("g", 10, "gpu_memory_total_bytes", 10.0, "0"),
    pt("h", 5, "gpu_memory_used_bytes", None, "0"),  # the numerator ended
    pt("i", 10, "gpu_memory_used_bytes", 9.0, "1"),
    pt("j", 10, "gpu_memory_total_bytes", 10.0, "1"),
]


@pytest.fixture(scope="module", params=BACKENDS, ids=backend_id)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    made: Backend = request.param(Path(tmp_path_factory.mktemp("stale")))
    made.load(POINTS, "metrics")
    yield made
    made.store.close()


def evaluate(backend: Backend, **params: Any) -> dict[tuple[Any, ...], float]:
    condition = Condition("metric_value", 300 * S, ">", 0.0, BY, (), params)
    statement, values = build_query(condition, NOW, dialect=backend.store.dialect)
    return {tuple(r[:2]): r[2] for r in backend.store.fetch(statement, values).rows}


def test_last_ends_at_a_stale_marker(backend: Backend) -> None:
    assert evaluate(backend, metric="gpu_utilization_percent") == {("alpha", "1"): 97.0}


def test_other_aggregates_see_no_value_in_a_stale_marker(backend: Backend) -> None:
    peak = evaluate(backend, metric="gpu_utilization_percent", aggregate="max")
    assert peak == {("alpha", "0"): 99.0, ("alpha", "1"): 98.0}
    low = evaluate(backend, metric="gpu_utilization_percent", aggregate="min")
    assert low == {("alpha", "0"): 99.0, ("alpha", "1"): 97.0}


def test_a_ratio_whose_side_ended_has_no_value(backend: Backend) -> None:
    ratio = evaluate(backend, metric="gpu_memory_used_bytes", divide_by="gpu_memory_total_bytes")
    assert ratio == {("alpha", "1"): 0.9}
