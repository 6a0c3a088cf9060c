"""``count_over_time`` and ``rate`` counted in the store, not line by line.

When a range aggregation counts lines and its pipeline is only line filters, what
it needs of a line is its stream and its time: the store counts the rows per stream
and per bucket (:func:`stacklens.logql.sql.count_buckets_sql`), and each step's window
``(t - range, t]`` is a sum of whole buckets. The bucket width is the greatest common
divisor of the step, the range and the start, so every window is made of whole
buckets. Line filters are exact in SQL only for ``log`` rows (their line is the
message); the other rows' lines are rendered, so with line filters those rows come
through the line-by-line path and are bucketed the same way.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from stacklens.store.base import Reader

from .lines import PUSH_LABELS, STREAM_COLUMNS
from .sql import Window, count_buckets_sql
from .stages import drop_labels
from .syntax import Drop, LineFilter, RangeAggregation

__all__ = ["bucket_width", "countable", "counted_series"]

Key = tuple[tuple[str, str], ...]
_LABEL_COLUMNS = STREAM_COLUMNS + PUSH_LABELS


def countable(node: RangeAggregation) -> bool:
    """Counting lines through line filters and ``drop``/``keep`` only (Grafana's log
    volume query is ``count_over_time({...} | drop __error__ [1m])``)."""
    return node.fn in ("count_over_time", "rate") and all(
        isinstance(stage, LineFilter | Drop) for stage in node.query.stages
    )


def bucket_width(times: list[int], range_ns: int) -> int:
    step = times[1] - times[0] if len(times) > 1 else range_ns
    return math.gcd(step, range_ns, times[0]) or range_ns


def counted_series(
    reader: Reader,
    node: RangeAggregation,
    times: list[int],
    window: Window,
    count_lines: Callable[[int], None],
    other_rows: Iterable[tuple[int, dict[str, str]]],
) -> dict[Key, dict[int, float]]:
    """The series of ``node`` at ``times``: store-counted buckets, plus ``other_rows``
    ((ts, labels) of rows the store could not filter) bucketed here. ``count_lines``
    is told how many lines the store counted."""
    width = bucket_width(times, node.range_ns)
    filters = [s for s in node.query.stages if isinstance(s, LineFilter)]
    drops = [s for s in node.query.stages if isinstance(s, Drop)]
    buckets: dict[Key, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    result = reader.fetch(*count_buckets_sql(window, filters, width))
    # By position, as selected (a backend may name no columns for an empty result).
    at_bucket = len(_LABEL_COLUMNS)
    keys: dict[tuple[Any, ...], Key] = {}
    read = 0
    for row in result.rows:
        values = row[:at_bucket]
        key = keys.get(values)
        if key is None:
            labels = {name: str(v) for name, v in zip(_LABEL_COLUMNS, values, strict=True) if v}
            for drop in drops:
                drop_labels(drop, labels)
            key = keys[values] = tuple(sorted(labels.items()))
        lines = int(row[at_bucket + 1])
        read += lines
        buckets[key][int(row[at_bucket])] += lines
    count_lines(read)
    for ts, labels in other_rows:
        buckets[tuple(sorted(labels.items()))][((ts - 1) // width) * width] += 1
    seconds = node.range_ns / 1e9
    at = np.array(times, dtype=np.int64)
    out: dict[Key, dict[int, float]] = {}
    for key, counts in buckets.items():
        starts = np.array(sorted(counts), dtype=np.int64)
        prefix = np.concatenate([[0.0], np.cumsum([counts[s] for s in starts.tolist()])])
        # each step's window (t - range, t] is the buckets starting in [t - range, t - width]
        lo = np.searchsorted(starts, at - node.range_ns, side="left")
        hi = np.searchsorted(starts, at - width, side="right")
        some = hi > lo
        totals = prefix[hi[some]] - prefix[lo[some]]
        if node.fn == "rate":
            totals = totals / seconds
        if some.any():
            out[key] = dict(zip(at[some].tolist(), totals.tolist(), strict=True))
    return out
