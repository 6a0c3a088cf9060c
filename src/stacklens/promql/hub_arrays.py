"""The array side of :mod:`stacklens.promql.hub_series`: rows of the statements of
:mod:`stacklens.promql.hub_sql`, as Arrow columns, turned into per-series numpy arrays
on the hub's grid, without a Python object per row."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Increments", "Key", "grid_points", "rows_by_stack"]

_MS: Final = 1_000_000  # ns per ms
#: A counter series: stack_name, family, l1, l2, l3.
Key = tuple[str, str, str, str, str]


def rows_by_stack(
    table: pa.Table,
) -> dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """Rows ``(stack_name, bucket, newest)`` of
    :func:`~stacklens.promql.hub_sql.newest_sql` as two arrays per stack (a week at a
    1-minute step is ~10^4 rows a stack)."""
    if not table.num_rows:
        return {}
    encoded = pc.dictionary_encode(table.column(0)).combine_chunks()
    index = encoded.indices.to_numpy(zero_copy_only=False)
    buckets = table.column(1).to_numpy().astype(np.int64)
    lasts = table.column(2).to_numpy().astype(np.float64)
    out: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
    for i, name in enumerate(encoded.dictionary.to_pylist()):
        rows = np.flatnonzero(index == i)
        stack = name.decode() if isinstance(name, bytes) else str(name)
        out[stack] = (buckets[rows], lasts[rows])
    return out


def grid_points(start_ms: int, end_ms: int, res: int) -> np.ndarray[Any, Any]:
    """The epoch-aligned multiples of ``res`` in ``[start_ms, end_ms]``."""
    return np.arange(-(-start_ms // res) * res, end_ms + 1, res, dtype=np.int64)


class Increments:
    """The rows of one :func:`~stacklens.promql.hub_sql.increments_sql` read, as
    arrays, its series hashes encoded once: the read may cover several families (a
    rule's selectors are read together) and each family's series take their rows from
    it (:meth:`gains`), the whole read not hashed again per family.

    Arrays of a row each are ~5 MB at a week of minutes: they are made once (the
    codes, the grid index of each row per grid) and a family's work runs on its own
    rows alone, not on the whole read's."""

    def __init__(self, table: pa.Table) -> None:
        #: the distinct series hashes (each to its index), and each row's index
        self.hashes: dict[int, int] = {}
        self.codes: np.ndarray[Any, Any] = np.zeros(0, dtype=np.int32)
        if table.num_rows:
            encoded = pc.dictionary_encode(table.column("series")).combine_chunks()
            self.hashes = {int(h): i for i, h in enumerate(encoded.dictionary.to_pylist())}
            self.codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False))
        self._bucket_ns = np.asarray(table.column("bucket").to_numpy(), dtype=np.int64)
        self._v = np.asarray(table.column("v").to_numpy(zero_copy_only=False), dtype=np.float64)
        self._points: dict[tuple[int, int], np.ndarray[Any, Any]] = {}

    def _point(self, first_ms: int, res: int) -> np.ndarray[Any, Any]:
        """Each row's grid index: its bucket ``b`` counts from the point ``b + res`` on."""
        found = self._points.get((first_ms, res))
        if found is None:
            found = (self._bucket_ns - first_ms * _MS) // (res * _MS) + 1
            self._points[(first_ms, res)] = found
        return found

    def gains(
        self, wanted: dict[int, Key], first_ms: int, n: int, res: int
    ) -> tuple[dict[Key, tuple[np.ndarray[Any, Any], int]], dict[Key, float]]:
        """Per wanted series (by the hashes naming it; several hashes may name one,
        whose rows are then summed: a histogram's ``_count`` of its bounds): what it
        gains at each of the ``n`` grid points from ``first_ms`` (the events of the
        bucket starting at ``b`` count from the grid point ``b + res`` on) and the
        index of the first point that gains; and what it gained after the last point
        (the rows of the bucket after it). Vectorized over every row: a week of
        minutes is ~10^5 rows a family."""
        keys = list(dict.fromkeys(wanted.values()))
        if not len(self.codes) or not keys:
            return {}, {}
        index = {key: i for i, key in enumerate(keys)}
        to_slot = np.full(len(self.hashes), -1, dtype=np.int64)
        for h, key in wanted.items():
            code = self.hashes.get(h)
            if code is not None:
                to_slot[code] = index[key]
        slot = to_slot[self.codes]
        rows = np.flatnonzero(slot >= 0)  # this family's rows
        slot, k, v = slot[rows], self._point(first_ms, res)[rows], self._v[rows]
        later = k >= n
        after = np.bincount(slot[later], weights=v[later], minlength=len(keys))
        keep = (k >= 0) & ~later
        at, k = slot[keep], k[keep]
        gains = np.bincount(at * n + k, weights=v[keep], minlength=len(keys) * n)
        gains = gains.reshape(len(keys), n)
        first = np.full(len(keys), n, dtype=np.int64)
        np.minimum.at(first, at, k)
        steps = {key: (gains[i], int(first[i])) for i, key in enumerate(keys) if first[i] < n}
        return steps, {key: float(after[i]) for i, key in enumerate(keys) if after[i]}
