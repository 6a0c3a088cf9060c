"""PromQL functions of instant vectors and scalars (math, clamps, histogram_quantile)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from stacklens.promql.values import Vector, VectorSeries

__all__ = ["MATH", "histogram_quantile"]

Floats = npt.NDArray[np.float64]

MATH: Final[dict[str, Callable[[Floats], Floats]]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "sgn": np.sign,
}


def _bucket_quantile(q: float, bounds: list[float], counts: list[float]) -> float:
    """Prometheus's ``bucketQuantile`` over cumulative ``counts`` sorted by bound."""
    if np.isnan(q):
        return float("nan")
    if q < 0:
        return float("-inf")
    if q > 1:
        return float("inf")
    if len(bounds) < 2 or bounds[-1] != float("inf"):
        return float("nan")
    # buckets are cumulative: a smaller later count is a scrape race, made monotonic
    counts = list(np.maximum.accumulate(np.array(counts, dtype=np.float64)))
    observations = counts[-1]
    if observations == 0:
        return float("nan")
    rank = q * observations
    b = int(np.searchsorted(np.array(counts), rank, side="left"))
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end = (0.0, bounds[0]) if b == 0 else (bounds[b - 1], bounds[b])
    below = 0.0 if b == 0 else counts[b - 1]
    count = counts[b] - below
    return start + (end - start) * ((rank - below) / count)


def _quantiles(q: Floats, bounds: Floats, counts: Floats) -> Floats:
    """:func:`_bucket_quantile` for every step (column) at once, all buckets present."""
    n = len(bounds)
    out = np.full(counts.shape[1], np.nan)
    if n < 2 or bounds[-1] != np.inf:
        return out
    cumulative = np.maximum.accumulate(counts, axis=0)
    total = cumulative[-1]
    with np.errstate(all="ignore"):
        rank = q * total
        b = np.argmax(cumulative >= rank[None, :], axis=0)
        cols = np.arange(counts.shape[1])
        below = np.where(b == 0, 0.0, cumulative[np.maximum(b - 1, 0), cols])
        start = np.where(b == 0, 0.0, bounds[np.maximum(b - 1, 0)])
        end = bounds[b]
        value = start + (end - start) * ((rank - below) / (cumulative[b, cols] - below))
    value = np.where(b == n - 1, bounds[-2], value)
    value = np.where((b == 0) & (bounds[0] <= 0), bounds[0], value)
    value = np.where(total == 0, np.nan, value)
    value = np.where(q < 0, -np.inf, np.where(q > 1, np.inf, value))
    return np.where(np.isnan(q), np.nan, value)


def histogram_quantile(q: Floats, vector: Vector, n_steps: int) -> Vector:
    """Per group of series alike but for ``le`` (``__name__`` dropped), per step."""
    groups: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], list[tuple[float, Floats]]]]
    groups = {}
    for s in vector.series:
        le = s.labels.get("le")
        if le is None:
            continue
        try:
            bound = float(le)
        except ValueError:
            continue
        labels = {k: v for k, v in s.labels.items() if k not in ("le", "__name__")}
        groups.setdefault(tuple(sorted(labels.items())), (labels, []))[1].append((bound, s.values))
    out: list[VectorSeries] = []
    for labels, buckets in groups.values():
        buckets.sort(key=lambda b: b[0])
        bounds = [b for b, _ in buckets]
        matrix = np.vstack([v for _, v in buckets])
        full = ~np.isnan(matrix).any(axis=0)
        values = np.full(n_steps, np.nan)
        if full.any():
            values[full] = _quantiles(q[full], np.array(bounds), matrix[:, full])
        for i in np.flatnonzero(~full & ~np.isnan(matrix).all(axis=0)).tolist():
            # some buckets missing at this step: the scalar path over those present
            column = matrix[:, i]
            present = ~np.isnan(column)
            values[i] = _bucket_quantile(
                float(q[i]),
                [b for b, p in zip(bounds, present, strict=True) if p],
                list(column[present]),
            )
        if not np.isnan(values).all():
            out.append(VectorSeries(labels, values))
    return Vector(out)
