from __future__ import annotations

import asyncio
import os
from pathlib import Path

import msgspec
import pytest

from stacklens.ingest.loader import Loader
from stacklens.ingest.spool import Spool, SpoolFullError, recover_segment
from stacklens.schema import EventRow
from stacklens.store.duckdb import DuckDBStore

encoder = msgspec.json.Encoder()


def payload(ids: list[str]) -> bytes:
    return b"".join(
        encoder.encode(
            EventRow(event_id=i, ts=1_767_225_600 * 10**9, stack_name="s", event_type="log")
        )
        + b"\n"
        for i in ids
    )


def stored_ids(store: DuckDBStore) -> list[str]:
    return sorted(r[0] for r in store.fetch("SELECT event_id FROM events").rows)


def test_concurrent_appends_share_fsyncs(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.open()

    async def many() -> None:
        await asyncio.gather(*(spool.append(payload([f"e{k}"]), 1) for k in range(200)))

    asyncio.run(many())
    assert spool.rows_acknowledged == 200
    assert spool.fsyncs < 200  # group commit: several requests per fsync
    spool.close()


def test_loader_moves_rows_and_discards_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.open()
    store = DuckDBStore(tmp_path / "ev.duckdb")
    loader = Loader(spool, store)
    spool.append_blocking(payload(["a", "b"]), 2)
    spool.append_blocking(payload(["b", "c"]), 2)  # "b" again: a client retry
    result = loader.run_once()
    assert (result.read, result.inserted) == (3, 3)  # in-batch duplicate collapsed
    assert stored_ids(store) == ["a", "b", "c"]
    assert list((tmp_path / "spool").iterdir()) == []
    spool.append_blocking(payload(["c", "d"]), 2)  # "c" retried in a later batch
    assert loader.run_once().inserted == 1
    assert stored_ids(store) == ["a", "b", "c", "d"]
    assert store.checkpoint("events") == 2


def test_torn_tail_is_cut_back_to_last_commit(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.open()
    spool.append_blocking(payload(["a", "b"]), 2)
    spool.close()
    segment = next((tmp_path / "spool").iterdir())
    good = segment.read_bytes()
    # An unacknowledged batch whose marker never made it, then half a line.
    segment.write_bytes(good + payload(["x"]) + b'{"event_id":"y","t')
    assert recover_segment(segment) == 2
    assert segment.read_bytes() == good


def test_corrupt_batch_is_dropped_with_everything_after(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.open()
    spool.append_blocking(payload(["a"]), 1)
    spool.append_blocking(payload(["b"]), 1)
    spool.close()
    segment = next((tmp_path / "spool").iterdir())
    data = bytearray(segment.read_bytes())
    second = data.index(b'"b"')
    data[second + 1] = ord("z")  # a flipped byte: the CRC no longer matches
    segment.write_bytes(bytes(data))
    assert recover_segment(segment) == 1


def test_restart_replays_only_what_the_store_lacks(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.open()
    store = DuckDBStore(tmp_path / "ev.duckdb")
    spool.append_blocking(payload(["a", "b"]), 2)
    segments = spool.seal()
    store.load_segments("events", segments)  # committed, then "crash" before discard
    spool.append_blocking(payload(["c"]), 1)
    spool.close()
    assert len(list((tmp_path / "spool").iterdir())) == 2

    spool2 = Spool(tmp_path / "spool")
    spool2.open()
    loader = Loader(spool2, store)
    loader.recover()
    loader.run_once()
    assert stored_ids(store) == ["a", "b", "c"]
    assert store.count_events() == 3


def test_backlog_bound_refuses_with_spool_full(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_backlog_bytes=100)
    spool.open()
    spool.append_blocking(payload(["a", "b"]), 2)  # ~2 rows, over 100 bytes
    with pytest.raises(SpoolFullError):
        spool.append_blocking(payload(["c"]), 1)
    spool.close()


def test_segments_are_private_to_the_hub_user(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.open()
    spool.append_blocking(payload(["a"]), 1)
    segment = next((tmp_path / "spool").iterdir())
    assert os.stat(segment).st_mode & 0o077 == 0
    spool.close()


def test_dedup_window_is_by_receive_time(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "ev.duckdb", dedup_window_ns=60 * 10**9)

    def load(number: int, event_id: str, received_s: int) -> int:
        row = EventRow(
            event_id=event_id,
            ts=1_767_225_600 * 10**9,
            stack_name="s",
            event_type="log",
            received_ns=received_s * 10**9,
        )
        path = tmp_path / f"{number}.ndjson"
        path.write_bytes(encoder.encode(row) + b"\n")
        return store.load_segments("events", [(number, path)]).inserted

    assert load(1, "a", received_s=1000) == 1
    assert load(2, "a", received_s=1030) == 0  # a retry 30 s later: a duplicate
    assert load(3, "a", received_s=1100) == 1  # 100 s later: past the 60 s window
    assert stored_ids(store) == ["a", "a"]


_DISK_FULL_SCRIPT = """
import resource, signal, sys
from pathlib import Path
import msgspec
from stacklens.ingest.spool import Spool
from stacklens.schema import EventRow

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write() fails with EFBIG
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (6000, hard))  # the soft limit: raised later
spool = Spool(Path(sys.argv[1]))
spool.open()
acked, failed = [], 0
encoder = msgspec.json.Encoder()
for n in range(40):
    rows = [EventRow(event_id=f"b{n}-{i}", ts=1_767_225_600 * 10**9, stack_name="s",
                     event_type="log", message="x" * (40 + 97 * (n % 3))) for i in range(3)]
    payload = b"".join(encoder.encode(r) + b"\\n" for r in rows)
    try:
        spool.append_blocking(payload, 3)
    except OSError:
        failed += 1
        # Space comes back (another file was deleted): later batches succeed.
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        continue
    acked.extend(r.event_id for r in rows)
spool.close()
print(" ".join(acked))
print(failed)
"""


def test_failed_write_leaves_no_torn_bytes_before_later_acks(tmp_path: Path) -> None:
    import subprocess
    import sys

    # A disk that fills up: a write past 6,000 bytes fails part-way (EFBIG); then
    # space comes back and later batches are acknowledged.
    result = subprocess.run(
        [sys.executable, "-c", _DISK_FULL_SCRIPT, str(tmp_path / "spool")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    acked_line, failed = result.stdout.strip().splitlines()
    acked = acked_line.split()
    assert int(failed) == 1
    assert any(event_id.startswith("b39-") for event_id in acked)  # acks went on after it
    # Every byte left is part of an acknowledged batch: recovery keeps them all and
    # the loader reads them all.
    for segment in (tmp_path / "spool").iterdir():
        kept = recover_segment(segment)
        rows = [ln for ln in segment.read_bytes().splitlines() if ln.startswith(b'{"event_id"')]
        assert kept == len(rows)
    spool = Spool(tmp_path / "spool")
    spool.open()
    store = DuckDBStore(tmp_path / "ev.duckdb")
    Loader(spool, store).run_once()
    assert stored_ids(store) == sorted(acked)
