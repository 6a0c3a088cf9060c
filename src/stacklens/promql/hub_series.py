"""The hub's own metric families as PromQL series, their history rebuilt.

``/metrics`` shows each counter's value now (``metric_counters``, never pruned). A
query about the past needs the value the counter had then: a counter is cumulative
from its first event, so its value at ``t`` is its total now minus the contributions
of the raw events at or after ``t`` (the same contributions the loader folds into
``metric_counters``: :func:`stacklens.analytics.rollups.counter_contributions`). That
holds even when retention has dropped older raw days — those events are in the total.

Samples lie on a grid of ``resolution_ms`` (epoch-aligned, default 15 s: a virtual
scrape), the sample at ``g`` counting the events with ``ts < g``; a series starts at
the first grid point after its first event and never ends (a counter does not
disappear from ``/metrics``). A range query that reads only multiples of a coarser
spacing (:mod:`stacklens.promql.spacing`) gets its samples at those alone, the same
values (the hub's grid again where a series starts between two of them). Labels are
``/metrics``'s: ``stack_name`` and the
family's own (no ``job``/``instance``: no scrape happened). Only the cumulative
families are served, and two gauges rebuilt likewise:
``stacklens_stack_last_seen_timestamp_seconds`` (the newest event before each sample)
and ``stacklens_stack_up`` (1 while that is within the heartbeat window, 5 min);
``opencode_active_sessions`` has no history here (a scraping Prometheus keeps it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa

from stacklens.analytics.definitions import DURATION_BUCKETS, HEARTBEAT_WINDOW_S
from stacklens.promql.hub_arrays import Increments, Key, grid_points, rows_by_stack
from stacklens.promql.hub_sql import (
    increments_sql,
    newest_hours_sql,
    newest_sql,
    series_sql,
    totals_sql,
)
from stacklens.promql.model import (
    LimitError,
    Limits,
    Matcher,
    Series,
    matches_all,
    names_matching,
)
from stacklens.store.base import ColumnReader

__all__ = ["FAMILIES", "HubSeriesSource"]

_MS: Final = 1_000_000  # ns per ms
_DURATION: Final = "opencode_response_duration_seconds"


@dataclass(frozen=True)
class Family:
    """A Prometheus name served from ``metric_counters`` family ``source``."""

    source: str
    #: label names of l1, l2, l3 (``""``: that column is not a label)
    labels: tuple[str, str, str]
    help: str
    kind: str = "counter"


FAMILIES: Final[dict[str, Family]] = {
    "opencode_sessions_total": Family("sessions", ("", "", ""), "Sessions started."),
    "opencode_messages_total": Family(
        "messages", ("role", "model", "agent"), "Messages processed."
    ),
    "opencode_tokens_total": Family("tokens", ("model", "direction", ""), "Tokens used."),
    "opencode_tool_invocations_total": Family(
        "tools", ("tool", "success", ""), "Tool invocations."
    ),
    "opencode_errors_total": Family("errors", ("", "", ""), "Errors."),
    "stacklens_cost_usd_total": Family("cost", ("model", "", ""), "LLM cost in USD."),
    "stacklens_unpriced_events_total": Family(
        "unpriced", ("model", "provider", ""), "Events with tokens whose model has no price."
    ),
    "stacklens_stack_events_total": Family(
        "events", ("event_type", "", ""), "Events stored, by type."
    ),
    f"{_DURATION}_bucket": Family(
        "duration_bucket", ("model", "le", ""), "LLM response duration.", "histogram"
    ),
    f"{_DURATION}_count": Family(
        "duration_bucket", ("model", "", ""), "LLM response duration.", "histogram"
    ),
    f"{_DURATION}_sum": Family(
        "duration_sum", ("model", "", ""), "LLM response duration.", "histogram"
    ),
    "stacklens_stack_last_seen_timestamp_seconds": Family(
        "last_seen", ("", "", ""), "Time of the stack's newest event.", "gauge"
    ),
    "stacklens_stack_up": Family(
        "up", ("", "", ""), "1 when the stack sent an event within the heartbeat window.", "gauge"
    ),
}
#: the ``le`` label values of the histogram, in bound order (as /metrics prints them)
_LE: Final = [*(repr(float(b)) for b in DURATION_BUCKETS), "+Inf"]
_BOUND_LE: Final = dict(zip([*(f"{b:g}" for b in DURATION_BUCKETS), "+Inf"], _LE, strict=True))


def _key(row: Sequence[Any]) -> Key:
    return (str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]))


def _labels(name: str, row: Sequence[Any]) -> dict[str, str]:
    family = FAMILIES[name]
    labels = {"__name__": name, "stack_name": str(row[0])}
    for label, value in zip(family.labels, row[2:5], strict=True):
        if label:
            labels[label] = _BOUND_LE.get(str(value), str(value)) if label == "le" else str(value)
    return labels


class HubSeriesSource:
    """Reads the families of :data:`FAMILIES` from ``reader``; ``clock`` (epoch ns)
    bounds the grid (no sample after now)."""

    def __init__(
        self,
        reader: ColumnReader,
        clock: Callable[[], int],
        *,
        resolution_ms: int = 15_000,
        heartbeat_window_s: int = HEARTBEAT_WINDOW_S,
    ) -> None:
        self._reader = reader
        self._clock = clock
        # The rules ask a family several times over one window (``a{x="y"}[5m] / a[5m]``):
        # within one query, each statement is read once.
        self._read: dict[tuple[str, str], list[Any]] = {}
        self._columns: dict[tuple[str, str], pa.Table] = {}
        self._increments: dict[tuple[str, str], Increments] = {}
        # The counter families the query's selectors name, read in one statement (a
        # rule's ``errors / (calls > 0)``: one read, not one per family; on ClickHouse
        # each statement costs ~8-10 ms however little it reads).
        self._families: frozenset[str] = frozenset()
        self.resolution_ms = resolution_ms
        self.heartbeat_window_s = heartbeat_window_s

    def names(self, stacks: tuple[str, ...] | None) -> list[str]:
        return sorted(FAMILIES)

    def query_started(self, selectors: Sequence[Sequence[Matcher]] = ()) -> None:
        self._read.clear()
        self._columns.clear()
        self._increments.clear()
        self._families = frozenset(
            FAMILIES[name].source
            for matchers in selectors
            for name in names_matching(FAMILIES, matchers)
            if FAMILIES[name].kind != "gauge"
        )

    def metadata(self) -> dict[str, tuple[str, str, str]]:
        out = {n: (f.kind, f.help, "") for n, f in FAMILIES.items() if f.kind != "histogram"}
        out[_DURATION] = ("histogram", FAMILIES[f"{_DURATION}_sum"].help, "seconds")
        return out

    def series(
        self, names: Sequence[str], stacks: tuple[str, ...] | None, start_ms: int, end_ms: int
    ) -> list[dict[str, str]]:
        wanted = set(names)
        rows = self._reader.fetch(*series_sql(self._reader.dialect, stacks, 1_000_000)).rows
        found: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        for name, family in FAMILIES.items():
            if name not in wanted:
                continue
            if family.kind == "gauge":
                for stack in sorted({str(r[0]) for r in rows}):
                    labels = {"__name__": name, "stack_name": stack}
                    found[tuple(sorted(labels.items()))] = labels
                continue
            for row in rows:
                if row[1] == family.source:
                    labels = _labels(name, row)
                    if name.endswith("_bucket"):
                        for le in _LE:
                            labels = {**labels, "le": le}
                            found[tuple(sorted(labels.items()))] = labels
                    else:
                        found[tuple(sorted(labels.items()))] = labels
        return list(found.values())

    def samples(
        self,
        names: Sequence[str],
        stacks: tuple[str, ...] | None,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        limits: Limits,
        *,
        spacing_ms: int | None = None,
    ) -> list[Series]:
        res, now_ms = self.resolution_ms, self._clock() // _MS
        # The query reads only multiples of spacing_ms: sample every spacing_ms (fewer
        # buckets summed, 4x shorter arrays at a 1-minute step) when those are points
        # of the grid and none is after now (the grid's last point would be).
        coarse = (
            spacing_ms
            if spacing_ms
            and spacing_ms > res
            and spacing_ms % res == 0
            and start_ms % spacing_ms == 0
            and end_ms <= now_ms
            else None
        )
        end_ms = min(end_ms, now_ms)
        out: list[Series] = []
        for name in names:
            found = None
            if coarse is not None:
                grid = grid_points(start_ms, end_ms, coarse)
                found = self._family(name, stacks, matchers, grid, coarse, limits)
            if found is None:  # a series starts between two samples read: the full grid
                grid = grid_points(start_ms, end_ms, res)
                found = self._family(name, stacks, matchers, grid, res, limits)
            out += found or []
        return out

    def _fetch(self, statement: tuple[str, dict[str, Any]], limits: Limits) -> list[Any]:
        key = _statement_key(statement)
        rows = self._read.get(key)
        if rows is None:
            rows = self._read[key] = self._reader.fetch(*statement).rows
        if len(rows) > limits.max_rows:
            raise LimitError(f"the query reads more than {limits.max_rows} rows (max_rows)")
        return rows

    def _fetch_columns(self, statement: tuple[str, dict[str, Any]], limits: Limits) -> pa.Table:
        key = _statement_key(statement)
        table = self._columns.get(key)
        if table is None:
            table = self._columns[key] = self._reader.fetch_arrow(*statement)
        if table.num_rows > limits.max_rows:
            raise LimitError(f"the query reads more than {limits.max_rows} rows (max_rows)")
        return table

    def _fetch_increments(
        self, statement: tuple[str, dict[str, Any]], limits: Limits
    ) -> Increments:
        key = _statement_key(statement)
        found = self._increments.get(key)
        if found is None:
            found = self._increments[key] = Increments(self._fetch_columns(statement, limits))
        return found

    def _family(
        self,
        name: str,
        stacks: tuple[str, ...] | None,
        matchers: Sequence[Matcher],
        grid: np.ndarray[Any, Any],
        res: int,
        limits: Limits,
    ) -> list[Series] | None:
        """The series of ``name`` sampled at ``grid`` (multiples of ``res``); ``None``
        when ``res`` is coarser than the hub's grid and a series starts after the first
        point (where it starts between two coarse points is not known)."""
        if not len(grid):
            return []
        d, family = self._reader.dialect, FAMILIES[name]
        if family.kind == "gauge":
            return self._last_seen(name, stacks, matchers, grid, res, limits)
        cap = limits.max_rows + 1
        families = self._families if family.source in self._families else {family.source}
        totals = self._fetch(totals_sql(d, families, stacks, cap), limits)
        wanted: dict[Key, float] = defaultdict(float)
        hashes: dict[int, Key] = {}
        for row in totals:
            if row[1] != family.source:
                continue
            key = _key(row)
            if name.endswith("_count"):  # a histogram's count: its bounds' counters summed
                key = (key[0], key[1], key[2], "", key[4])
            if name.endswith("_bucket") or matches_all(matchers, _labels(name, key)):
                wanted[key] += float(row[5])
                hashes[int(row[6])] = key
        if not wanted:
            return []
        # refuse before allocating: every wanted series is one value per grid point
        # (a histogram's per-bound counters become its cumulative buckets)
        if len(grid) * len(wanted) > limits.max_samples:
            raise LimitError(
                f"the query loads more than {limits.max_samples} samples (max_samples)"
            )
        since_ns = max(0, (int(grid[0]) - res) * _MS)
        until_ns = int(grid[-1]) * _MS
        increments = self._fetch_increments(
            increments_sql(d, families, stacks, since_ns, until_ns, res * _MS, cap), limits
        )
        n = len(grid)
        steps, after_by = increments.gains(hashes, int(grid[0]), n, res)
        values: dict[Key, tuple[np.ndarray[Any, Any], int]] = {}
        for key, total in wanted.items():
            window, first = steps.get(key) or (np.zeros(n), n)
            before = total - after_by.get(key, 0.0) - float(window.sum())
            start = 0 if abs(before) > 1e-9 * max(1.0, abs(total)) else first
            if start < n:
                values[key] = (before + np.cumsum(window), start)
        if res != self.resolution_ms and any(start for _, start in values.values()):
            return None
        if name.endswith("_bucket"):
            return self._buckets(name, values, matchers, grid, limits)
        series = [
            Series(_labels(name, key), grid[start:], arr[start:], counter=True)
            for key, (arr, start) in values.items()
        ]
        series = [s for s in series if matches_all(matchers, s.labels)]
        _check_series(series, limits)
        return series

    def _buckets(
        self,
        name: str,
        values: dict[Key, tuple[np.ndarray[Any, Any], int]],
        matchers: Sequence[Matcher],
        grid: np.ndarray[Any, Any],
        limits: Limits,
    ) -> list[Series]:
        """Cumulative ``le`` buckets from the per-bound counters (as /metrics sums)."""
        groups: dict[tuple[str, str], dict[str, tuple[np.ndarray[Any, Any], int]]] = defaultdict(
            dict
        )
        for key, value in values.items():
            groups[(key[0], key[2])][key[3]] = value
        out: list[Series] = []
        n = len(grid)
        for (stack, model), bounds in groups.items():
            start = min(s for _, s in bounds.values())
            running = np.zeros(n)
            for bound, le in _BOUND_LE.items():
                if bound in bounds:
                    running = running + bounds[bound][0]
                labels = {"__name__": name, "stack_name": stack, "model": model, "le": le}
                if matches_all(matchers, labels):
                    out.append(Series(labels, grid[start:], running[start:], counter=True))
        _check_series(out, limits)
        return out

    def _newest_before(
        self, stacks: tuple[str, ...] | None, until_ns: int, limits: Limits
    ) -> dict[str, int]:
        """Each stack's newest event time (ns) before ``until_ns``: read from the hour
        of it the hourly rollup names (not every raw event before the window). A stack
        the rollup names but whose raw events from that hour have none before
        ``until_ns`` (that hour's events are all after it, or were erased) is read
        again over all its raw events."""
        d = self._reader.dialect
        hours = {
            str(s): int(h) for s, h in self._fetch(newest_hours_sql(d, stacks, until_ns), limits)
        }
        if not hours:
            return {}
        found = self._fetch(newest_sql(d, stacks, None, until_ns, None, newest_from=hours), limits)
        newest = {str(s): int(t) for s, t in found}
        missing = tuple(sorted(set(hours) - set(newest)))
        if missing:
            again = self._fetch(newest_sql(d, missing, None, until_ns, None), limits)
            newest.update({str(s): int(t) for s, t in again})
        return newest

    def _last_seen(
        self,
        name: str,
        stacks: tuple[str, ...] | None,
        matchers: Sequence[Matcher],
        grid: np.ndarray[Any, Any],
        res: int,
        limits: Limits,
    ) -> list[Series]:
        """A stack's newest event time at each grid point (the events before it), and
        ``up``: 1 while that is within the heartbeat window. Exact at every grid point
        whatever its spacing: no fallback to the hub's grid."""
        d = self._reader.dialect
        since_ns = max(0, (int(grid[0]) - res) * _MS)
        until_ns = int(grid[-1]) * _MS
        before = self._newest_before(stacks, since_ns, limits)
        table = self._fetch_columns(newest_sql(d, stacks, since_ns, until_ns, res * _MS), limits)
        n = len(grid)
        newest: dict[str, np.ndarray[Any, Any]] = {}
        for stack, last in before.items():
            newest[str(stack)] = np.full(n, int(last) / 1e9)
        by_stack = rows_by_stack(table)
        for stack, (buckets, lasts) in by_stack.items():
            if stack not in newest:
                newest[stack] = np.full(n, np.nan)
            k = (buckets // _MS + res - int(grid[0])) // res
            values = lasts / 1e9
            inside = (k >= 0) & (k < n)
            np.fmax.at(newest[stack], k[inside], values[inside])
        out: list[Series] = []
        for stack, arr in newest.items():
            filled = np.fmax.accumulate(arr)  # a newest time carries forward
            present = ~np.isnan(filled)
            if name == "stacklens_stack_up":
                age_ok = filled >= grid / 1000.0 - self.heartbeat_window_s
                filled = np.where(age_ok, 1.0, 0.0)
            labels = {"__name__": name, "stack_name": stack}
            if present.any() and matches_all(matchers, labels):
                out.append(Series(labels, grid[present], filled[present]))
        _check_series(out, limits)
        return out


def _statement_key(statement: tuple[str, dict[str, Any]]) -> tuple[str, str]:
    """What names a statement in a query's caches: its text and its parameters."""
    return statement[0], repr(sorted(statement[1].items()))


def _check_series(series: list[Series], limits: Limits) -> None:
    if len(series) > limits.max_series:
        raise LimitError(f"a selector matches more than {limits.max_series} series (max_series)")
