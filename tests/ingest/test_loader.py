"""The loader cannot be stalled: refused rows are bisected out to the quarantine,
everything else loads; failures that are not the data's fault are retried."""

from __future__ import annotations

import errno
import itertools
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest

from stacklens.ingest.loader import Loader
from stacklens.ingest.quarantine import Quarantine
from stacklens.ingest.spool import Spool
from stacklens.store.base import LoadResult
from stacklens.store.duckdb import DuckDBStore
from stacklens.testing.analytics import install_rollups
from stacklens.testing.poison import ordinary_rows, poison_rows


def _append(spool: Spool, lines: list[bytes]) -> None:
    spool.append_blocking(b"".join(line + b"\n" for line in lines), len(lines))


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Spool, DuckDBStore, Quarantine, Loader]:
    spool = Spool(tmp_path / "spool")
    spool.open()
    store = install_rollups(tmp_path / "events.duckdb")
    quarantine = Quarantine(tmp_path / "quarantine", "events")
    counted: list[int] = []
    loader = Loader(spool, store, quarantine=quarantine, on_quarantine=counted.append)
    loader.counted = counted  # type: ignore[attr-defined]
    yield spool, store, quarantine, loader
    spool.close()
    store.close()


def _ids(store: DuckDBStore) -> set[str]:
    return {r[0] for r in store.fetch("SELECT event_id FROM events").rows}


@pytest.mark.parametrize("name", sorted(poison_rows()))
def test_each_poison_is_quarantined_and_the_rest_loads(
    parts: tuple[Spool, DuckDBStore, Quarantine, Loader], name: str
) -> None:
    spool, store, quarantine, loader = parts
    poison = poison_rows()[name]
    good_a = ordinary_rows("alpha", 40, prefix="a")
    good_b = ordinary_rows("beta", 25, prefix="b")
    # Poison in the middle of one segment, ordinary batches before and after it.
    _append(spool, good_a[:20])
    _append(spool, good_a[20:] + poison + good_b[:10])
    _append(spool, good_b[10:])
    loader.run_once()

    assert _ids(store) >= {f"a-{i:05d}" for i in range(40)} | {f"b-{i:05d}" for i in range(25)}
    entries = quarantine.entries()
    assert entries, "the poison is in the quarantine"
    assert sum(e.rows for e in entries) == loader.rows_quarantined == sum(loader.counted)  # type: ignore[attr-defined]
    assert all(e.error for e in entries)
    assert spool.backlog_bytes() == 0 and loader.lag_s() == 0.0
    # Quarantined rows are the poison rows, byte for byte.
    held = {row for e in entries for row in quarantine.rows(e.id)}
    assert held <= set(poison)
    # The next batches load normally: the stream is not stalled.
    _append(spool, ordinary_rows("gamma", 5, prefix="g"))
    loader.run_once()
    assert {f"g-{i:05d}" for i in range(5)} <= _ids(store)
    assert store.checkpoint("events") == 2  # both segments done, the poisoned one too


def test_rollups_count_each_ordinary_event_once_around_poison(
    parts: tuple[Spool, DuckDBStore, Quarantine, Loader],
) -> None:
    spool, store, _, loader = parts
    _append(spool, ordinary_rows("alpha", 30, prefix="a") + poison_rows()["tokens_sum"])
    loader.run_once()
    events = store.fetch("SELECT sum(events) FROM usage_hourly WHERE stack_name = 'alpha'").rows[0]
    assert events == (30,)


def test_a_quarantined_entry_can_be_retried(
    parts: tuple[Spool, DuckDBStore, Quarantine, Loader],
) -> None:
    spool, store, quarantine, loader = parts
    _append(spool, ordinary_rows("alpha", 3, prefix="a") + poison_rows()["type_mismatch"])
    loader.run_once()
    (entry,) = quarantine.entries()
    assert "tokens_in" in quarantine.rows(entry.id)[0].decode()
    outcome = loader.retry_quarantined(entry.id)
    assert not outcome.loaded and outcome.error
    assert quarantine.get(entry.id).attempts == 1  # type: ignore[union-attr]
    # Fix the row on disk (what an operator or a newer hub would do) and retry.
    quarantine.rows_path(entry.id).write_bytes(ordinary_rows("alpha", 1, prefix="fixed")[0] + b"\n")
    outcome = loader.retry_quarantined(entry.id)
    assert outcome.loaded and outcome.inserted == 1
    assert quarantine.entries() == [] and "fixed-00000" in _ids(store)
    with pytest.raises(KeyError):
        loader.retry_quarantined(entry.id)


def test_replaying_a_segment_after_a_crash_mid_bisect_stores_nothing_twice(
    parts: tuple[Spool, DuckDBStore, Quarantine, Loader], tmp_path: Path
) -> None:
    spool, store, quarantine, loader = parts
    _append(spool, ordinary_rows("alpha", 20, prefix="a") + poison_rows()["ts_2_63"])
    segments = spool.seal()
    # A crash after the bisection stored the good rows, before the checkpoint: the
    # checkpoint never moved, so the segment is loaded again.
    calls = itertools.count()
    real = store.load_files

    def crash_at_checkpoint(
        stream: str, files: Sequence[Path], *, checkpoint: int | None = None
    ) -> LoadResult:
        if not files and checkpoint is not None and next(calls) == 0:
            raise SystemExit("crash")
        return real(stream, files, checkpoint=checkpoint)

    store.load_files = crash_at_checkpoint  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        loader.run_once()
    assert store.checkpoint("events") < segments[-1][0]
    loader.run_once()
    counts = store.fetch("SELECT count(*), count(DISTINCT event_id) FROM events")
    assert counts.rows[0] == (20, 20)
    assert len(quarantine.entries()) == 1  # the same entry, not a second copy
    assert store.fetch("SELECT sum(events) FROM usage_hourly").rows[0] == (20,)


class _FailingStore:
    """The real store behind a disk that is full for the first ``failures`` loads."""

    def __init__(self, store: DuckDBStore, failures: int) -> None:
        self.store = store
        self.failures = failures

    def load_segments(self, stream: str, segments: Sequence[tuple[int, Path]]) -> LoadResult:
        if self.failures > 0:
            self.failures -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.store.load_segments(stream, segments)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def test_a_full_disk_is_retried_not_quarantined(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.open()
    store = install_rollups(tmp_path / "events.duckdb")
    quarantine = Quarantine(tmp_path / "quarantine", "events")
    loader = Loader(spool, _FailingStore(store, 3), quarantine=quarantine)  # type: ignore[arg-type]
    try:
        _append(spool, ordinary_rows("alpha", 10, prefix="a"))
        for _ in range(3):
            loader._safe_cycle()
            assert loader.last_error is not None and "No space" in loader.last_error
            assert spool.backlog_bytes() > 0 and quarantine.entries() == []
        loader._safe_cycle()
        assert loader.last_error is None and len(_ids(store)) == 10
        assert quarantine.entries() == [] and spool.backlog_bytes() == 0
    finally:
        spool.close()
        store.close()


def test_a_store_io_error_is_retried_until_it_clears(tmp_path: Path) -> None:
    """A real DuckDB IOException inside the load (a file the load needs is missing, as
    when a volume goes away) is not the data's fault: retried, never quarantined."""
    flag = tmp_path / "volume" / "present.csv"
    spool = Spool(tmp_path / "spool")
    spool.open()
    store = DuckDBStore(
        tmp_path / "events.duckdb",
        load_hooks={"events": [f"SELECT count(*) FROM read_csv('{flag}')"]},
    )
    quarantine = Quarantine(tmp_path / "quarantine", "events")
    loader = Loader(spool, store, quarantine=quarantine)
    try:
        _append(spool, ordinary_rows("alpha", 10, prefix="a"))
        loader._safe_cycle()
        assert loader.last_error is not None and "IOException" in loader.last_error
        assert quarantine.entries() == [] and spool.backlog_bytes() > 0
        assert store.count_events() == 0
        flag.parent.mkdir()
        flag.write_text("a\n1\n")
        loader._safe_cycle()
        assert loader.last_error is None and store.count_events() == 10
        assert quarantine.entries() == []
    finally:
        spool.close()
        store.close()


def test_without_a_quarantine_a_refused_load_is_kept_in_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.open()
    store = install_rollups(tmp_path / "events.duckdb")
    loader = Loader(spool, store)
    try:
        _append(spool, poison_rows()["ts_2_63"])
        loader._safe_cycle()
        assert loader.last_error is not None and spool.backlog_bytes() > 0
    finally:
        spool.close()
        store.close()


def test_a_failed_rollback_does_not_hide_the_real_error(tmp_path: Path) -> None:
    """A load hook that ends the transaction early leaves COMMIT to fail and no
    transaction to roll back, as a COMMIT on a full disk does: the COMMIT's error is
    the one raised, not "cannot rollback"."""
    store = DuckDBStore(tmp_path / "events.duckdb", load_hooks={"events": ["COMMIT"]})
    path = tmp_path / "segment.ndjson"
    path.write_bytes(b"".join(r + b"\n" for r in ordinary_rows("alpha", 2, prefix="a")))
    try:
        with pytest.raises(duckdb.Error) as caught:
            store.load_segments("events", [(1, path)])
        assert "rollback" not in str(caught.value).lower()
        assert "commit" in str(caught.value).lower()
    finally:
        store.close()
