"""Evaluating LogQL over the store: log queries to streams, metric queries to series.

Rows come from :func:`stacklens.logql.sql.select_rows_sql` (selector, stacks, window
and the pushed-down line filters in SQL); the pipeline runs per line in Python
(:mod:`stacklens.logql.stages`). Range aggregations follow Loki: the window of the step
at ``t`` is ``(t - range, t]``, a step with no sample in its window has no point, and
``rate`` is the count divided by the range in seconds.

Every query is bounded (:class:`Bounds`): lines returned, lines read, series, points
per series and the time range; past one, :class:`LimitError` names it (the API's 400).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from stacklens.store.base import Reader

from .counting import countable, counted_series
from .lines import event_labels, event_line, event_metadata
from .sql import (
    Direction,
    Window,
    pushed_label_filters,
    pushed_line_filters,
    select_rows_sql,
)
from .stages import ERROR_LABEL, run_stages
from .syntax import (
    LineFilter,
    LogQLError,
    LogQuery,
    MetricExpr,
    NumberLiteral,
    RangeAggregation,
    VectorAggregation,
    VectorLiteral,
)
from .vectors import Key, Series, aggregate, binary

__all__ = [
    "Bounds",
    "LimitError",
    "Scan",
    "Series",
    "evaluate_metric",
    "select_streams",
]

_PAGE: Final = 2000


class LimitError(LogQLError):
    """A query went past one of the per-query :class:`Bounds` (named in the message)."""


@dataclass(frozen=True)
class Bounds:
    """Per-query limits (Loki's defaults where Loki has one)."""

    max_entries: int = 5000  # max_entries_limit_per_query
    max_series: int = 500  # max_query_series
    max_query_length_ns: int = 721 * 3600 * 10**9  # max_query_length
    max_points: int = 11_000  # points per series (Loki's resolution limit)
    #: The hub's own: lines one query may read and run through the pipeline in Python
    #: (lines the store counts itself, for count_over_time/rate, are not bounded by it).
    max_scan_lines: int = 250_000


@dataclass
class Scan:
    """What a query read (the answer's ``stats``)."""

    lines: int = 0
    bytes: int = 0
    returned: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _key(labels: dict[str, str]) -> Key:
    return tuple(sorted(labels.items()))


def _rows(
    reader: Reader,
    query: LogQuery,
    *,
    stacks: tuple[str, ...] | None,
    since_ns: int,
    until_ns: int,
    direction: Direction,
    bounds: Bounds,
    scan: Scan,
    only_non_log: bool = False,
    page: int = _PAGE,
) -> Iterator[tuple[int, str, dict[str, str], float | None]]:
    """(ts, line, labels, sample) of every line the pipeline keeps, in order."""
    filters = pushed_line_filters(query.stages)
    label_filters = pushed_label_filters(query.stages)
    after: tuple[int, str] | None = None
    while True:
        window = Window(
            reader.dialect,
            since_ns=since_ns,
            until_ns=until_ns,
            stacks=stacks,
            matchers=query.matchers,
        )
        statement, params = select_rows_sql(
            window,
            filters,
            direction=direction,
            limit=page,
            after=after,
            label_filters=label_filters,
            only_non_log=only_non_log,
        )
        result = reader.fetch(statement, params)
        for row in result.dicts():
            _count(scan, bounds, 1)
            line = event_line(row)
            scan.bytes += len(line.encode("utf-8", "surrogatepass"))
            metadata = event_metadata(row)
            kept = run_stages(line, {**event_labels(row), **metadata}, query.stages)
            if kept is not None:
                labels = kept[1]
                for name, value in metadata.items():
                    if labels.get(name) == value:
                        del labels[name]  # metadata filters, it does not split series
                yield row["ts"], kept[0], labels, kept[2]
        if len(result.rows) < page:
            return
        last = dict(zip(result.columns, result.rows[-1], strict=True))
        after = (last["ts"], last["event_id"])


def _count(scan: Scan, bounds: Bounds, lines: int) -> None:
    scan.lines += lines
    if scan.lines > bounds.max_scan_lines:
        raise LimitError(
            f"the query would read more than {bounds.max_scan_lines} log lines "
            "(max_scan_lines): narrow the selector or the time range"
        )


def select_streams(
    reader: Reader,
    query: LogQuery,
    *,
    stacks: tuple[str, ...] | None,
    start_ns: int,
    end_ns: int,
    limit: int,
    direction: Direction,
    bounds: Bounds,
    scan: Scan,
) -> list[dict[str, Any]]:
    """Loki's ``streams`` result: at most ``limit`` lines in ``direction`` order,
    grouped by their labels after the pipeline."""
    streams: dict[Key, list[list[str]]] = {}
    lines = _rows(
        reader,
        query,
        stacks=stacks,
        since_ns=start_ns,
        until_ns=end_ns,
        direction=direction,
        bounds=bounds,
        scan=scan,
        # A first page of the limit: enough when the filters are exact in SQL.
        page=min(max(limit, 100), _PAGE),
    )
    for ts, line, labels, _ in lines:
        streams.setdefault(_key(labels), []).append([str(ts), line])
        scan.returned += 1
        if scan.returned >= limit:
            break
    return [{"stream": dict(key), "values": values} for key, values in streams.items()]


def steps(start_ns: int, end_ns: int, step_ns: int) -> list[int]:
    return list(range(start_ns, end_ns + 1, step_ns))


def _range_series(
    reader: Reader,
    node: RangeAggregation,
    times: list[int],
    stacks: tuple[str, ...] | None,
    bounds: Bounds,
    scan: Scan,
) -> Series:
    since_ns, until_ns = max(times[0] - node.range_ns + 1, 0), times[-1] + 1
    if countable(node):
        window = Window(
            reader.dialect,
            since_ns=since_ns,
            until_ns=until_ns,
            stacks=stacks,
            matchers=node.query.matchers,
        )
        others = (
            _rows(
                reader,
                node.query,
                stacks=stacks,
                since_ns=since_ns,
                until_ns=until_ns,
                direction="forward",
                bounds=bounds,
                scan=scan,
                only_non_log=True,
            )
            if any(isinstance(stage, LineFilter) for stage in node.query.stages)
            else ()
        )
        return counted_series(
            reader,
            node,
            times,
            window,
            # Counted in the store: for the stats, not the bound on lines read here.
            lambda n: setattr(scan, "lines", scan.lines + n),
            ((ts, labels) for ts, _, labels, _ in others),
        )
    samples: dict[Key, tuple[list[int], list[float]]] = {}
    lines = _rows(
        reader,
        node.query,
        stacks=stacks,
        since_ns=since_ns,
        until_ns=until_ns,
        direction="forward",
        bounds=bounds,
        scan=scan,
    )
    for ts, line, labels, value in lines:
        if ERROR_LABEL in labels:
            raise LogQLError(
                f"pipeline error: {labels[ERROR_LABEL]!r} for series {_show(labels)}. Use a "
                f'label filter to intentionally skip this error (e.g. | {ERROR_LABEL}!="'
                f'{labels[ERROR_LABEL]}"). To skip all errors use | {ERROR_LABEL}!="".'
            )
        if node.fn in ("bytes_over_time", "bytes_rate"):
            sample = float(len(line.encode("utf-8", "surrogatepass")))
        elif value is not None:
            sample = value
        else:
            sample = 1.0
        stamps, values = samples.setdefault(_key(labels), ([], []))
        stamps.append(ts)
        values.append(sample)
    seconds = node.range_ns / 1e9
    out: Series = {}
    for key, (stamps, values) in samples.items():
        prefix = [0.0]
        for v in values:
            prefix.append(prefix[-1] + v)
        points: dict[int, float] = {}
        for t in times:
            lo = bisect.bisect_right(stamps, t - node.range_ns)
            hi = bisect.bisect_right(stamps, t)
            if hi <= lo:
                continue
            total = prefix[hi] - prefix[lo]
            if node.fn in ("count_over_time", "bytes_over_time", "sum_over_time"):
                points[t] = total
            elif node.fn in ("rate", "bytes_rate"):
                points[t] = total / seconds
            elif node.fn == "avg_over_time":
                points[t] = total / (hi - lo)
            elif node.fn == "min_over_time":
                points[t] = min(values[lo:hi])
            else:
                points[t] = max(values[lo:hi])
        if points:
            out[key] = points
    return out


def _show(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def evaluate_metric(
    reader: Reader,
    node: MetricExpr,
    *,
    times: list[int],
    stacks: tuple[str, ...] | None,
    bounds: Bounds,
    scan: Scan,
) -> Series | float:
    """A metric expression at every one of ``times`` (a float: a scalar)."""
    if isinstance(node, NumberLiteral):
        return node.value
    if isinstance(node, VectorLiteral):
        return {(): dict.fromkeys(times, node.value)}
    if isinstance(node, RangeAggregation):
        if node.range_ns > bounds.max_query_length_ns:
            raise LimitError(
                f"the range [{node.range_ns // 10**9}s] exceeds the limit "
                f"(max_query_length {bounds.max_query_length_ns // 3_600_000_000_000}h)"
            )
        return _range_series(reader, node, times, stacks, bounds, scan)
    if isinstance(node, VectorAggregation):
        inner = evaluate_metric(
            reader, node.inner, times=times, stacks=stacks, bounds=bounds, scan=scan
        )
        if isinstance(inner, float):
            raise LogQLError(f"{node.op} needs a vector, not a scalar")
        return aggregate(node, inner, times)
    left = evaluate_metric(reader, node.left, times=times, stacks=stacks, bounds=bounds, scan=scan)
    right = evaluate_metric(
        reader, node.right, times=times, stacks=stacks, bounds=bounds, scan=scan
    )
    return binary(node, left, right)
