from __future__ import annotations

import gzip

import pytest

from stacklens.ingest.body import BodyError, decode_content_encoding, parse_native


def test_object_array_and_ndjson_framings() -> None:
    assert parse_native(b'{"a":1}').events == [{"a": 1}]
    assert parse_native(b'[{"a":1},{"a":2}]').events == [{"a": 1}, {"a": 2}]
    parsed = parse_native(b'{"a":1}\n\n{"a":2}\n')
    assert parsed.events == [{"a": 1}, {"a": 2}] and parsed.rejected == []


def test_bad_ndjson_line_is_rejected_by_index_and_neighbours_kept() -> None:
    parsed = parse_native(b'{"a":1}\n{oops\n{"a":3}\n')
    assert parsed.events[0] == {"a": 1} and parsed.events[2] == {"a": 3}
    assert parsed.events[1] is None
    assert [i for i, _ in parsed.rejected] == [1]


@pytest.mark.parametrize("body", [b"", b"   ", b"not json", b"[1,", b"\xff\xfe"])
def test_unreadable_bodies_are_400(body: bytes) -> None:
    with pytest.raises(BodyError) as info:
        parse_native(body)
    assert info.value.status == 400


def test_gzip_roundtrip_and_bomb_refused() -> None:
    payload = b'{"a":1}' * 10
    assert decode_content_encoding(gzip.compress(payload), "gzip", 1000) == payload
    bomb = gzip.compress(b"0" * 100_000)
    with pytest.raises(BodyError) as info:
        decode_content_encoding(bomb, "gzip", 10_000)
    assert info.value.status == 413
    with pytest.raises(BodyError) as info:
        decode_content_encoding(b"not gzip", "gzip", 1000)
    assert info.value.status == 400
    with pytest.raises(BodyError) as info:
        decode_content_encoding(payload, "br", 1000)
    assert info.value.status == 415


def test_every_gzip_member_is_read() -> None:
    body = gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"b": 2}\n')
    assert decode_content_encoding(body, "gzip", 1000) == b'{"a": 1}\n{"b": 2}\n'
    assert parse_native(decode_content_encoding(body, "gzip", 1000)).events == [{"a": 1}, {"b": 2}]
    with pytest.raises(BodyError) as caught:  # the bound covers all members together
        decode_content_encoding(gzip.compress(b"x" * 600) * 2, "gzip", 1000)
    assert caught.value.status == 413
    with pytest.raises(BodyError, match="truncated"):
        decode_content_encoding(body + gzip.compress(b"tail")[:-4], "gzip", 1000)


@pytest.mark.parametrize("body", [b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000])
def test_deep_nesting_is_a_400(body: bytes) -> None:
    with pytest.raises(BodyError, match="nested too deeply") as caught:
        parse_native(body)
    assert caught.value.status == 400


def test_a_deep_ndjson_line_is_rejected_by_index() -> None:
    parsed = parse_native(b'{"ok": 1}\n' + b"[" * 1000 + b"]" * 1000 + b"\n")
    assert parsed.events[0] == {"ok": 1} and parsed.rejected == [(1, "line is nested too deeply")]
