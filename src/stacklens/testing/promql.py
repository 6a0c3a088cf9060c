"""A small hand-checked dataset for the PromQL engine (``tests/promql``).

2026-01-15, hub resolution 15 s (grid points at :00, :15, :30, :45):

* alpha, model gpt-4o: one llm_call of 50 input tokens the day before (2026-01-14
  10:00), then llm_calls at 10:00:05 (100 in, 1 s), 10:01:05 (200 in, 3 s) and
  10:02:05 (300 in, 7 s, failed: an error). Input tokens: 50 until 10:00:00, 150 from
  the 10:00:15 sample, 350 from 10:01:15, 650 from 10:02:15.
* beta, model gpt-4o-mini: one llm_call at 10:03:20 (1000 in, 20 out, 0.4 s).
* OTel points (alpha): gauge ``gpu.util`` {gpu_id 0} 50 at 10:04:00, 90 at 10:04:30;
  {gpu_id 1} 70 at 10:04:10; histogram ``req.latency`` (bounds 0.1, 1) buckets
  [1, 2, 1] sum 2.5 at 10:04:50.
"""

from __future__ import annotations

from typing import Any

import msgspec

from stacklens.promql.engine import PromQLEngine
from stacklens.promql.hub_series import FAMILIES, HubSeriesSource
from stacklens.promql.model import Limits
from stacklens.promql.otel_series import OtelSeriesSource
from stacklens.schema import EventRow, MetricRow
from stacklens.testing.backends import Backend

S = 10**9
DAY0 = 1_768_435_200 * S  # 2026-01-15T00:00:00Z
NOW = DAY0 + 12 * 3600 * S


__all__ = ["DAY0", "EVENTS", "NOW", "POINTS", "at", "at_s", "make_engine"]


def at(hour: int, minute: int, second: int = 0, day: int = 0) -> int:
    return DAY0 + ((day * 24 + hour) * 3600 + minute * 60 + second) * S


def at_s(hour: int, minute: int, second: int = 0) -> float:
    return at(hour, minute, second) / S


def _ev(event_id: str, ts: int, stack: str, **fields: Any) -> EventRow:
    return EventRow(
        event_id=event_id,
        ts=ts,
        stack_name=stack,
        event_type="llm_call",
        received_ns=NOW,
        session_id=f"s-{stack}",
        **fields,
    )


GPT = {"model": "gpt-4o", "provider": "openai"}
MINI = {"model": "gpt-4o-mini", "provider": "openai"}
EVENTS = [
    _ev("y1", at(10, 0, day=-1), "alpha", tokens_in=50, duration_ms=500.0, success=True, **GPT),
    _ev("a1", at(10, 0, 5), "alpha", tokens_in=100, duration_ms=1000.0, success=True, **GPT),
    _ev("a2", at(10, 1, 5), "alpha", tokens_in=200, duration_ms=3000.0, success=True, **GPT),
    _ev("a3", at(10, 2, 5), "alpha", tokens_in=300, duration_ms=7000.0, success=False, **GPT),
    _ev(
        "b1",
        at(10, 3, 20),
        "beta",
        tokens_in=1000,
        tokens_out=20,
        duration_ms=400.0,
        success=True,
        **MINI,
    ),
]


def _pt(pid: str, ts: int, name: str, kind: str, attrs: dict[str, str], **f: Any) -> MetricRow:
    return MetricRow(
        point_id=pid,
        ts=ts,
        stack_name="alpha",
        name=name,
        kind=kind,
        service="gpu-node",
        attributes=msgspec.json.encode(attrs).decode(),
        received_ns=NOW,
        **f,
    )


POINTS = [
    _pt("p1", at(10, 4, 0), "gpu.util", "gauge", {"gpu_id": "0"}, value=50.0),
    _pt("p2", at(10, 4, 30), "gpu.util", "gauge", {"gpu_id": "0"}, value=90.0),
    _pt("p3", at(10, 4, 10), "gpu.util", "gauge", {"gpu_id": "1"}, value=70.0),
    _pt(
        "p4",
        at(10, 4, 50),
        "req.latency",
        "histogram",
        {},
        value=2.5,
        count=4,
        bounds=[0.1, 1.0],
        bucket_counts=[1, 2, 1],
    ),
]


def make_engine(backend: Backend, limits: Limits | None = None) -> PromQLEngine:
    """The engine the API builds, over ``backend``'s store, the clock at :data:`NOW`."""
    return PromQLEngine(
        [
            HubSeriesSource(backend.store, lambda: NOW),
            OtelSeriesSource(backend.store, reserved=FAMILIES),
        ],
        limits,
    )
