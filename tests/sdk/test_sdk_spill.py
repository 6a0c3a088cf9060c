"""The spill store (outbox segments) and the JSONL file transport."""

from __future__ import annotations

from pathlib import Path

from stacklens.sdk.spill import FileTransport, SpillStore
from stacklens.testing import SequentialIds


def test_append_seal_claim_delete(tmp_path: Path) -> None:
    store = SpillStore(tmp_path / "spool", new_id=SequentialIds("seg"))
    assert not store.pending()
    assert store.append([b'{"a":1}', b'{"a":2}']) == 2
    assert store.pending()
    assert store.segments() == []  # still being written
    store.seal()
    [segment] = store.segments()
    assert segment.suffix == ".jsonl"
    with store.claim(segment) as lines:
        assert lines == [b'{"a":1}', b'{"a":2}']
        with store.claim(segment) as again:
            assert again is None  # locked by the first claim
        store.delete(segment)
    assert not store.pending()
    assert list((tmp_path / "spool").iterdir()) == []


def test_segments_rotate_by_size(tmp_path: Path) -> None:
    store = SpillStore(tmp_path, segment_bytes=100, new_id=SequentialIds("seg"))
    for _ in range(10):
        store.append([b"x" * 40])
    store.seal()
    segments = store.segments()
    assert len(segments) == 4
    assert segments == sorted(segments)
    total = 0
    for segment in segments:
        with store.claim(segment) as lines:
            assert lines is not None
            total += len(lines)
    assert total == 10


def test_a_dead_writers_part_is_adopted_and_its_torn_line_ignored(tmp_path: Path) -> None:
    (tmp_path / "01ABC-999999.part").write_bytes(b'{"a":1}\n{"a":2}\n{"a":')
    store = SpillStore(tmp_path)
    [segment] = store.segments()
    assert segment.name == "01ABC-999999.jsonl"
    with store.claim(segment) as lines:
        assert lines == [b'{"a":1}', b'{"a":2}']


def test_a_live_writers_part_is_left_alone(tmp_path: Path) -> None:
    writer = SpillStore(tmp_path)
    writer.append([b"{}"])
    other = SpillStore(tmp_path)  # another process (a separate lock holder)
    assert other.segments() == []
    writer.seal()
    assert len(other.segments()) == 1


def test_bounded_size(tmp_path: Path) -> None:
    store = SpillStore(tmp_path, max_bytes=50)
    assert store.append([b"x" * 30]) == 1
    assert store.append([b"y" * 30]) == 0
    assert store.dropped == 1


def test_file_transport_writes_whole_lines(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "out" / "events.jsonl")
    transport.write([b'{"a":1}', b'{"a":2}'])
    transport.write([b'{"a":3}'])
    transport.close()
    transport.write([b'{"a":4}'])  # reopens
    transport.close()
    assert (tmp_path / "out" / "events.jsonl").read_bytes() == (
        b'{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}\n'
    )
