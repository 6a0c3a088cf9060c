"""OTLP metrics → :class:`MetricPoint` data points (the metric-points sink's items).

One point per data point, with the series' resource stack/service and the point's own
attributes (JSON text, sorted keys; resource attributes are not copied in, to keep
series identity and cardinality what the exporter meant).

* gauge / sum: ``value``; sums carry ``monotonic`` and ``temporality``.
* histogram: ``value`` = sum, ``count``, explicit ``bounds`` and ``bucket_counts``.
* exponential histogram: converted to explicit bounds so every histogram is queried
  the same way. Bucket ``i`` of scale ``s`` is ``(base**i, base**(i+1)]`` with
  ``base = 2**(2**-s)``; negative buckets mirror that and the zero bucket sits between.
* summary: one point with ``value`` = sum and ``count``, plus one point per quantile
  with a ``quantile`` attribute and ``value`` = that quantile (the Prometheus shape).

Points flagged "no recorded value" are skipped (not rejected). ``rejected`` indexes
count data points in flattened order.
"""

from __future__ import annotations

import math
from typing import Any, Final, NamedTuple

import msgspec

from stacklens.ingest.limits import DEFAULT_REQUEST_LIMITS, RequestLimits
from stacklens.ingest.steps import CHUNK, Steps, run_steps

from .attributes import flatten_into, plain, resource_context
from .content import PROTOBUF, media_type, parse_chunks
from .cost import check_message_item

__all__ = ["MetricPoint", "MetricsDecodeResult", "decode_metrics", "metric_steps"]

_FLAG_NO_RECORDED_VALUE: Final = 1
_TEMPORALITY: Final = {1: "delta", 2: "cumulative"}
_json = msgspec.json.Encoder(order="sorted")


class MetricPoint(msgspec.Struct, array_like=True):
    """One stored metric data point."""

    ts: int  # time_unix_nano
    stack_name: str | None
    service: str | None
    name: str
    kind: str  # "gauge" | "sum" | "histogram" | "exp_histogram" | "summary"
    unit: str
    attributes: str  # JSON object text, sorted keys
    value: float | None  # gauge/sum value; histogram/summary: sum; quantile value
    count: int | None  # histogram/summary count
    bounds: list[float] | None  # histogram explicit bounds
    bucket_counts: list[int] | None
    monotonic: bool | None
    start_ts: int | None
    #: "delta" | "cumulative" for sums and histograms (rates depend on it).
    temporality: str | None = None


class MetricsDecodeResult(NamedTuple):
    points: list[MetricPoint]
    rejected: list[tuple[int, str]]


class _PointError(ValueError):
    pass


def decode_metrics(
    body: bytes,
    content_type: str,
    *,
    namespace_as_stack: bool = True,
    limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
) -> MetricsDecodeResult:
    """An OTLP/HTTP metrics body → points; raises OtlpDecodeError if unparsable,
    RequestLimitError past a per-request bound."""
    return run_steps(metric_steps(body, content_type, namespace_as_stack, limits))


def metric_steps(
    body: bytes, content_type: str, namespace_as_stack: bool, limits: RequestLimits
) -> Steps[MetricsDecodeResult]:
    """:func:`decode_metrics`, pausing (``yield``) between chunks of points."""
    check_each = media_type(content_type) == PROTOBUF  # JSON was checked before parsing
    points: list[MetricPoint] = []
    rejected: list[tuple[int, str]] = []
    index = 0
    for request in parse_chunks("metrics", body, content_type, limits):
        yield
        if request is None:
            continue
        for resource_metrics in request.resource_metrics:
            context = resource_context(
                resource_metrics.resource, namespace_as_stack=namespace_as_stack
            )
            series = (context.stack_name, context.service)
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    which = metric.WhichOneof("data")
                    if which is None:
                        continue
                    data = getattr(metric, which)
                    for point in data.data_points:
                        if check_each:
                            check_message_item("metrics", point, index, limits)
                        try:
                            if not point.flags & _FLAG_NO_RECORDED_VALUE:
                                points.extend(_points(series, metric, which, data, point))
                        except _PointError as err:
                            rejected.append((index, str(err)))
                        index += 1
                        if index % CHUNK == 0:
                            yield
    return MetricsDecodeResult(points, rejected)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _attributes(point: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in point.attributes:
        flatten_into(out, kv.key, plain(kv.value))
    return out


def _points(
    series: tuple[str | None, str | None], metric: Any, which: str, data: Any, point: Any
) -> list[MetricPoint]:
    ts = point.time_unix_nano
    if not ts:
        raise _PointError("data point has no time_unix_nano")
    attrs = _attributes(point)
    start = point.start_time_unix_nano or None
    temporality = _TEMPORALITY.get(getattr(data, "aggregation_temporality", 0))

    attrs_text = _json.encode(attrs).decode()

    def make(
        kind: str,
        value: float | None,
        *,
        count: int | None = None,
        bounds: list[float] | None = None,
        bucket_counts: list[int] | None = None,
        monotonic: bool | None = None,
        attributes: str | None = None,
    ) -> MetricPoint:
        return MetricPoint(
            ts, series[0], series[1], metric.name, kind, metric.unit,
            attrs_text if attributes is None else attributes,
            value, count, bounds, bucket_counts, monotonic, start, temporality,
        )  # fmt: skip

    if which in ("gauge", "sum"):
        number = point.WhichOneof("value")
        if number is None:
            raise _PointError("number data point has no value")
        monotonic = data.is_monotonic if which == "sum" else None
        return [make(which, _finite(float(getattr(point, number))), monotonic=monotonic)]
    if which == "histogram":
        bounds = list(point.explicit_bounds)
        counts = list(point.bucket_counts)
        if counts and len(counts) != len(bounds) + 1:
            raise _PointError("histogram needs len(bucket_counts) == len(explicit_bounds) + 1")
        value = _finite(point.sum) if point.HasField("sum") else None
        return [make("histogram", value, count=point.count, bounds=bounds, bucket_counts=counts)]
    if which == "exponential_histogram":
        bounds, counts = _exponential_buckets(point)
        value = _finite(point.sum) if point.HasField("sum") else None
        return [
            make("exp_histogram", value, count=point.count, bounds=bounds, bucket_counts=counts)
        ]
    # summary
    out = [make("summary", _finite(point.sum), count=point.count)]
    for quantile in point.quantile_values:
        labelled = dict(attrs)
        labelled["quantile"] = repr(quantile.quantile)
        text = _json.encode(labelled).decode()
        out.append(make("summary", _finite(quantile.value), attributes=text))
    return out


def _bound(scale: int, index: int) -> float:
    try:
        result = math.pow(2.0, math.ldexp(float(index), -scale))
    except OverflowError:
        raise _PointError("exponential histogram bucket bound overflows") from None
    if not math.isfinite(result) or result == 0.0:
        raise _PointError("exponential histogram bucket bound out of range")
    return result


def _exponential_buckets(point: Any) -> tuple[list[float], list[int]]:
    """Exponential buckets → explicit ``(bounds, bucket_counts)`` (see module doc)."""
    scale = point.scale
    if not -10 <= scale <= 20:
        raise _PointError("exponential histogram scale must be within [-10, 20]")
    negative = point.negative
    positive = point.positive
    if len(negative.bucket_counts) + len(positive.bucket_counts) > 4096:
        raise _PointError("exponential histogram has more than 4096 buckets")
    neg_counts = list(negative.bucket_counts)
    pos_counts = list(positive.bucket_counts)
    bounds: list[float] = []
    counts: list[int] = []
    if neg_counts:
        # Most negative first: bucket k covers [-base**(o+k+1), -base**(o+k)).
        top = negative.offset + len(neg_counts)
        bounds.append(-_bound(scale, top))
        counts.append(0)
        for k in range(len(neg_counts) - 1, -1, -1):
            bounds.append(-_bound(scale, negative.offset + k))
            counts.append(neg_counts[k])
    # The zero bucket (and anything between the two ranges) up to the first positive bound.
    low = positive.offset if pos_counts else 0
    bounds.append(_bound(scale, low))
    counts.append(point.zero_count)
    for k, count in enumerate(pos_counts):
        bounds.append(_bound(scale, positive.offset + k + 1))
        counts.append(count)
    counts.append(0)  # (last bound, +inf)
    return bounds, counts
