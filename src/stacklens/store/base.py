"""The ``Store`` protocol: what the hub needs from an event database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import msgspec

from stacklens.store.dialect import Dialect

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ColumnReader",
    "ErasureStep",
    "EventQuery",
    "LoadResult",
    "Partition",
    "QueryResult",
    "Reader",
    "RejectedDataError",
    "StagedRows",
    "Store",
]

#: Query parameters by name (every builder in the package emits named parameters).
Params = Mapping[str, Any]


class QueryResult(NamedTuple):
    """What one read returns: the column names and every row, already fetched (the
    cursor that produced them is closed)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Any:
        """The first column of the first row (``None`` when there is no row)."""
        return self.rows[0][0] if self.rows else None


class Reader(Protocol):
    """Read access to a store: one call, one cursor, closed before it returns
    (callers never hold a connection). ``dialect`` is how SQL for it is spelled."""

    @property
    def dialect(self) -> Dialect: ...

    def fetch(self, statement: str, params: Params | None = None) -> QueryResult:
        """Run one read statement built by a builder over :attr:`dialect`."""
        ...


class ColumnReader(Reader, Protocol):
    """A :class:`Reader` that can also hand a result over as columns."""

    def fetch_arrow(self, statement: str, params: Params | None = None) -> pa.Table:
        """One read as an Arrow table: for results of 10^5 rows and more, which as
        Python tuples cost more than the query itself."""
        ...


class EventQuery(msgspec.Struct, frozen=True):
    """Filters of ``GET /api/v1/events``; ``None`` means no filter."""

    stacks: tuple[str, ...] | None = None
    event_type: str | None = None
    session_id: str | None = None
    trace_id: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    limit: int = 100


class LoadResult(msgspec.Struct, frozen=True):
    #: Rows read from the segments (markers excluded).
    read: int
    #: Rows inserted (read minus duplicates of an ``event_id`` already stored).
    inserted: int


class Partition(NamedTuple):
    """One stored day of a raw stream (what retention may drop whole)."""

    #: The UTC day of event time the partition holds.
    day: dt.date
    rows: int
    #: Bytes of the database file its checkpointed data occupies (an estimate: rows
    #: not yet checkpointed count nothing, blocks shared between columns count once).
    bytes: int


class StagedRows(msgspec.Struct, frozen=True):
    """Rows computed in Python that a maintenance write joins against (a cost
    backfill's new prices): staged as the temp table ``name`` for the statements of
    :meth:`Store.apply_staged`. Column kinds: string, int, float, timestamp (epoch ns)."""

    name: str
    columns: tuple[tuple[str, str], ...]
    rows: list[tuple[Any, ...]]


class ErasureStep(msgspec.Struct, frozen=True):
    """One statement of a user's erasure besides the raw rows (a rollup's), built over
    the store's dialect; the rows it changes are counted under ``label`` (an empty
    label: not counted). ``counted``: a ``SELECT count(*)`` of the rows the step will
    change, over the same ``params``, for a store whose writes report no row count
    (ClickHouse), run just before the step."""

    label: str
    statement: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    counted: str = ""


class RejectedDataError(ValueError):
    """The store refused the rows themselves (a value that does not fit a column or a
    rollup sum, a line that is not JSON): retrying the same rows cannot succeed, so the
    loader isolates and quarantines them. Any other exception from a load is taken as
    the store's or the disk's fault and retried."""


class Store(ColumnReader, Protocol):
    """An event store. One writer (the loader) appends; many readers query."""

    def load_segments(self, stream: str, segments: Sequence[tuple[int, Path]]) -> LoadResult:
        """Insert every row of these sealed spool segments and advance the stream's
        checkpoint to the last segment number, atomically (all or nothing)."""
        ...

    def load_files(
        self, stream: str, files: Sequence[Path], *, checkpoint: int | None = None
    ) -> LoadResult:
        """Insert every row of these NDJSON files (deduplicated by key); when
        ``checkpoint`` is given, advance the stream's checkpoint to it in the same
        transaction. Raises :class:`RejectedDataError` when the rows are at fault."""
        ...

    def apply_staged(self, staged: StagedRows, statements: Sequence[str]) -> None:
        """Stage ``staged`` as a temp table and run ``statements`` (built over
        :attr:`dialect`) over it in one transaction, exclusive of loads: the one write
        besides loads (a cost backfill), so no caller ever holds a connection."""
        ...

    def drop_day(self, stream: str, day: dt.date) -> None:
        """Drop every row of ``stream``'s table whose event time falls on the UTC
        ``day``: the whole partition, atomically (nothing when the day has none)."""
        ...

    def partitions(self, stream: str) -> list[Partition]:
        """The stored days of ``stream``, oldest first (one consistent snapshot)."""
        ...

    def erase_user(
        self, user_ids: Sequence[str], steps: Sequence[ErasureStep] = ()
    ) -> dict[str, int]:
        """Delete every raw row (events, logs, spans) whose ``user_id`` is one of
        ``user_ids`` from every table holding them, then run ``steps``, in one
        transaction exclusive of loads. Returns the rows changed per label (``events``
        for the raw rows, each step's label for its own)."""
        ...

    def storage(self, tables: Sequence[str]) -> dict[str, int]:
        """Estimated bytes on disk of each of ``tables`` (0 for one that does not
        exist); a tier's size is the sum over its tables."""

    def reclaim_space(self) -> bool:
        """Give the space of dropped days back (write what the log holds into the
        database and free the dropped blocks), when no other write is in flight;
        ``False``: not now, the retention job tries again on its next run."""
        ...

    def checkpoint(self, stream: str) -> int:
        """The number of the last segment loaded for ``stream`` (0 when none)."""
        ...

    def query_events(self, query: EventQuery) -> list[dict[str, Any]]:
        """Events matching ``query``, newest first."""
        ...

    def query_metric_points(
        self,
        *,
        name: str | None,
        stacks: tuple[str, ...] | None,
        since_ns: int | None,
        until_ns: int | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Stored OTel metric points, newest first (``name=None``: every name)."""
        ...

    def metric_names(self, stacks: tuple[str, ...] | None) -> list[dict[str, Any]]:
        """Each metric name and kind with a unit, its point count and last time."""
        ...

    def count_events(self) -> int: ...

    def backup(self, dest: Path) -> None:
        """Write a consistent copy of the whole store to the new file ``dest``."""
        ...

    def ping(self) -> None:
        """Raise when the store cannot answer."""
        ...

    def close(self) -> None: ...
