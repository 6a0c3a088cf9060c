"""Functions over a range vector (``rate``, ``increase``, ``*_over_time`` ...), each
series evaluated at every step at once with ``searchsorted`` windows.

A window at step ``t`` holds the samples with ``t - range <= ts <= t`` (both ends
included, as Prometheus 2.x selects them). ``rate``/``increase``/``delta`` follow
Prometheus's ``extrapolatedRate``: counter resets are added back, and the result is
extrapolated to the window's edges unless the first or last sample lies further than
1.1 average intervals from it (then by half an interval), never below zero for a
counter.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from stacklens.promql.model import Series

__all__ = [
    "EXTRAPOLATED",
    "RANGE_FUNCTIONS",
    "Windows",
    "evaluate_range_function",
    "extrapolated_rows",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
NAN: Final = float("nan")


class Windows:
    """Each step's window as sample indices ``[lo, hi)`` of a series; series sharing
    one time axis (the hub's grid) share the search."""

    def __init__(self, steps: Ints, range_ms: int) -> None:
        self.steps = steps
        self.range_ms = range_ms
        self._seen: dict[tuple[int, int], tuple[Ints, Ints]] = {}

    def __call__(self, s: Series) -> tuple[Ints, Ints]:
        return self.bounds(s.ts)

    def bounds(self, ts: Ints) -> tuple[Ints, Ints]:
        """The windows over the time axis ``ts``."""
        key = (int(ts.ctypes.data), len(ts))
        found = self._seen.get(key)
        if found is None:
            lo = np.searchsorted(ts, self.steps - self.range_ms, side="left")
            hi = np.searchsorted(ts, self.steps, side="right")
            found = (lo.astype(np.int64), hi.astype(np.int64))
            self._seen[key] = found
        return found


def _windows(s: Series, w: Windows) -> tuple[Ints, Ints]:
    return w(s)


def _extrapolated(s: Series, w: Windows, *, counter: bool, rate: bool) -> Floats:
    rows = extrapolated_rows(s.values[np.newaxis, :], s.ts, w, counter=counter, rate=rate)
    row: Floats = rows[0]
    return row


def extrapolated_rows(
    v: npt.NDArray[np.float64], ts: Ints, w: Windows, *, counter: bool, rate: bool
) -> npt.NDArray[np.float64]:
    """``rate``/``increase``/``delta`` of several series sharing one time axis ``ts``
    (``v``: a row of values per series), every step of every series at once: the
    windows, the edges' distances and the sampled spans are the axis's, computed once.
    Element by element the same operations as one series alone, so the same answers
    to the bit."""
    steps, range_ms = w.steps, w.range_ms
    lo, hi = w.bounds(ts)
    n = hi - lo
    ok = n >= 2
    if not ok.any() or v.shape[1] < 2:
        return np.full((v.shape[0], len(steps)), NAN)
    t_axis = ts.astype(np.float64)
    first, last = lo[ok], hi[ok] - 1
    result = _columns(v, last) - _columns(v, first)
    drops = v[:, 1:] < v[:, :-1] if counter else None
    if drops is not None and drops.any():  # most counters never reset: one pass, no sum
        resets = np.where(drops, v[:, :-1], 0.0)
        cumulative = np.concatenate([np.zeros((v.shape[0], 1)), np.cumsum(resets, axis=1)], 1)
        result = result + cumulative[:, last] - cumulative[:, first]
    t = steps[ok].astype(np.float64)
    to_start = (t_axis[first] - (t - range_ms)) / 1000.0
    to_end = (t - t_axis[last]) / 1000.0
    sampled = (t_axis[last] - t_axis[first]) / 1000.0
    average = sampled / (n[ok] - 1)
    # A counter's extrapolation stops where it would reach zero: only ever shortening
    # a positive distance to the window's start (``to_zero`` is never negative where
    # it applies). With no such distance (windows on samples: a lattice read) nothing
    # is shortened, and the per-series arrays are not built.
    if counter and (to_start > 0).any():
        with np.errstate(divide="ignore", invalid="ignore"):
            to_zero = sampled * (_columns(v, first) / result)
        shrink = (result > 0) & (_columns(v, first) >= 0) & (to_zero < to_start)
        to_start = np.where(shrink, to_zero, to_start)
    threshold = average * 1.1
    interval = (
        sampled
        + np.where(to_start < threshold, to_start, average / 2)
        + np.where(to_end < threshold, to_end, average / 2)
    )
    # in place: ``result`` is this function's own array, and a few hundred series of
    # 10^4 steps are ~20 MB a copy (fresh memory to map each time: page faults)
    with np.errstate(divide="ignore", invalid="ignore"):
        result *= interval / sampled
    if rate:
        result /= range_ms / 1000.0
    if ok.all():
        return result
    out = np.full((v.shape[0], len(steps)), NAN)
    out[:, ok] = result
    return out


def _columns(v: npt.NDArray[np.float64], index: Ints) -> npt.NDArray[np.float64]:
    """``v[:, index]``; a view when ``index`` counts up by one (a step's window edges
    on a lattice move one sample a step), not a gather of every row."""
    if len(index) and index[-1] - index[0] == len(index) - 1 and (np.diff(index) == 1).all():
        return v[:, int(index[0]) : int(index[-1]) + 1]
    return v[:, index]


def _instant(s: Series, w: Windows, *, rate: bool) -> Floats:
    steps = w.steps
    lo, hi = _windows(s, w)
    out = np.full(len(steps), NAN)
    ok = (hi - lo) >= 2
    if not ok.any():
        return out
    last, prev = hi[ok] - 1, hi[ok] - 2
    v = s.values
    if rate:
        dv = np.where(v[last] < v[prev], v[last], v[last] - v[prev])
        out[ok] = dv / ((s.ts[last] - s.ts[prev]) / 1000.0)
    else:
        out[ok] = v[last] - v[prev]
    return out


def _cumulative(op: str) -> Callable[[Series, Windows], Floats]:
    def run(s: Series, w: Windows) -> Floats:
        lo, hi = _windows(s, w)
        n = (hi - lo).astype(np.float64)
        sums = np.concatenate([[0.0], np.cumsum(s.values)])
        total = sums[hi] - sums[lo]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = {"sum": total, "count": n, "avg": total / n}[op]
        return np.where(n > 0, value, NAN)

    return run


def _per_window(reduce: Callable[[Floats], float]) -> Callable[[Series, Windows], Floats]:
    def run(s: Series, w: Windows) -> Floats:
        steps = w.steps
        lo, hi = _windows(s, w)
        out = np.full(len(steps), NAN)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for i, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
                if b > a:
                    out[i] = reduce(s.values[a:b])
        return out

    return run


def _last(s: Series, w: Windows) -> Floats:
    steps = w.steps
    lo, hi = _windows(s, w)
    out = np.full(len(steps), NAN)
    ok = hi > lo
    out[ok] = s.values[hi[ok] - 1]
    return out


def _present(s: Series, w: Windows) -> Floats:
    lo, hi = _windows(s, w)
    return np.where(hi > lo, 1.0, NAN)


def _counting(kind: str) -> Callable[[Series, Windows], Floats]:
    def run(s: Series, w: Windows) -> Floats:
        lo, hi = _windows(s, w)
        v = s.values
        hit = v[1:] < v[:-1] if kind == "resets" else v[1:] != v[:-1]
        cumulative = np.concatenate([[0.0], np.cumsum(hit.astype(np.float64))])
        last = np.maximum(hi - 1, 0)
        return np.where(hi > lo, cumulative[last] - cumulative[np.minimum(lo, last)], NAN)

    return run


RangeFunction = Callable[[Series, Windows], Floats]

#: The functions :func:`extrapolated_rows` evaluates: (counter, rate) of each.
EXTRAPOLATED: Final = {
    "rate": (True, True),
    "increase": (True, False),
    "delta": (False, False),
}

RANGE_FUNCTIONS: Final[dict[str, RangeFunction]] = {
    "rate": lambda s, w: _extrapolated(s, w, counter=True, rate=True),
    "increase": lambda s, w: _extrapolated(s, w, counter=True, rate=False),
    "delta": lambda s, w: _extrapolated(s, w, counter=False, rate=False),
    "irate": lambda s, w: _instant(s, w, rate=True),
    "idelta": lambda s, w: _instant(s, w, rate=False),
    "sum_over_time": _cumulative("sum"),
    "count_over_time": _cumulative("count"),
    "avg_over_time": _cumulative("avg"),
    "min_over_time": _per_window(lambda a: float(np.min(a))),
    "max_over_time": _per_window(lambda a: float(np.max(a))),
    "stddev_over_time": _per_window(lambda a: float(np.std(a))),
    "stdvar_over_time": _per_window(lambda a: float(np.var(a))),
    "last_over_time": _last,
    "present_over_time": _present,
    "changes": _counting("changes"),
    "resets": _counting("resets"),
}


def evaluate_range_function(name: str, s: Series, steps: Ints, range_ms: int) -> Floats:
    return RANGE_FUNCTIONS[name](s, Windows(steps, range_ms))
