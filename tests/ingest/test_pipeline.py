"""The pipeline's metric-points sink: points are bounded at the door, so every
acknowledged point fits its columns."""

from __future__ import annotations

import pytest

from stacklens.ingest.otlp import MetricPoint
from stacklens.ingest.otlp.semconv import to_int
from stacklens.ingest.pipeline import IngestPipeline, point_problem
from stacklens.privacy import Redactor

TS = 1_768_046_400 * 10**9


def _point(**changes: object) -> MetricPoint:
    fields: dict[str, object] = {
        "ts": TS, "stack_name": "s", "service": None, "name": "m", "kind": "histogram",
        "unit": "", "attributes": "{}", "value": 1.0, "count": 1, "bounds": [1.0],
        "bucket_counts": [1, 0], "monotonic": None, "start_ts": None,
    }  # fmt: skip
    fields.update(changes)
    return MetricPoint(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ts": 2**63}, "timeUnixNano"),
        ({"ts": 2**64 - 1}, "timeUnixNano"),
        ({"start_ts": 2**63}, "startTimeUnixNano"),
        ({"count": 2**63}, "count"),
        ({"bucket_counts": [2**64 - 1, 0]}, "bucketCounts"),
    ],
)
def test_points_that_do_not_fit_are_rejected_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    problem = point_problem(_point(**changes))
    assert problem is not None and problem.startswith(f"{field}: out of range")
    prepared = IngestPipeline(Redactor(b"k")).prepare_points(
        [_point(), _point(**changes)],
        key_stack=None,
        default_stack=None,
        received_ns=TS,
    )
    assert prepared.rows == 1 and prepared.rejected == [(1, problem)]


def test_ordinary_points_pass() -> None:
    assert point_problem(_point()) is None


def test_otlp_token_counts_out_of_range_reach_normalize() -> None:
    # Dropped silently before (kept as an attribute); now normalize refuses the span.
    assert to_int(-5) == -5
    assert to_int(2**64) == 2**64
    assert to_int("-7") == -7
    assert to_int("n/a") is None and to_int(True) is None
