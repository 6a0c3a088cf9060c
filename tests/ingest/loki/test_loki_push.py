"""decode_push: Loki JSON and snappy-protobuf push bodies → raw log events."""

from __future__ import annotations

import contextlib
import gzip
import json
import time
from typing import Any

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stacklens.ingest.loki import LokiDecodeError, decode_push
from stacklens.ingest.loki.proto import PushRequest
from stacklens.schema import normalize

PB = "application/x-protobuf"
TS = 1_700_000_000_123_456_789


def check(event: dict[str, Any]) -> dict[str, Any]:
    return normalize(event, default_stack="s", now_ns=time.time_ns(), new_id=lambda: "x")


def json_body(streams: list[dict[str, Any]]) -> bytes:
    return json.dumps({"streams": streams}).encode()


def test_json_push_with_labels_and_structured_metadata() -> None:
    body = json_body(
        [
            {
                "stream": {"app": "auth", "level": "ERROR", "namespace": "prod",
                           "stack_name": "Chat"},
                "values": [
                    [str(TS), "login failed", {"trace_id": "0af7651916cd43dd8448eb211c80319c",
                                               "user_id": "u1", "pod": "auth-1"}],
                    [str(TS + 1), "retry"],
                ],
            }
        ]
    )  # fmt: skip
    result = decode_push(body, "application/json", None)
    assert result.rejected == []
    first, second = result.events
    assert first["event_type"] == "log"
    assert first["timestamp"] == TS
    assert first["message"] == "login failed"
    assert first["level"] == "error"
    assert first["service"] == "auth"
    assert first["stack_name"] == "chat"
    assert first["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert first["user_id"] == "u1"
    assert first["attributes"] == {"app": "auth", "namespace": "prod", "pod": "auth-1"}
    assert second["attributes"] == {"app": "auth", "namespace": "prod"}
    assert first["event_id"] != second["event_id"]
    for event in result.events:
        check(event)


def test_level_sniffed_from_json_or_logfmt_line() -> None:
    body = json_body(
        [{"stream": {"service": "api"}, "values": [
            [str(TS), '{"level": "warning", "message": "slow", "trace_id": "x"}'],
            [str(TS), 'ts=1 level=debug msg="hello"'],
            [str(TS), "plain text"],
        ]}]
    )  # fmt: skip
    levels = [e.get("level") for e in decode_push(body, "application/json", None).events]
    assert levels == ["warning", "debug", None]


def test_gzip_json_and_legacy_shape() -> None:
    legacy = {"streams": [{"labels": '{job="x"}', "entries": [
        {"ts": "2024-01-01T00:00:00.5Z", "line": "old"}]}]}  # fmt: skip
    body = gzip.compress(json.dumps(legacy).encode())
    [event] = decode_push(body, "application/json; charset=utf-8", "gzip").events
    assert event["timestamp"] == 1_704_067_200_500_000_000
    assert (event["message"], event["attributes"]) == ("old", {"job": "x"})


def proto_body(request: Any) -> bytes:
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def test_protobuf_snappy_push() -> None:
    request = PushRequest()
    stream = request.streams.add(labels=b'{service_name="gw", msg="a \\"q\\"", level="info"}')
    entry = stream.entries.add(line=b"hello")
    entry.timestamp.seconds, entry.timestamp.nanos = TS // 10**9, TS % 10**9
    entry.structuredMetadata.add(name=b"span_id", value=b"00f067aa0ba902b7")
    entry.structuredMetadata.add(name=b"level", value=b"Debug")  # per-line beats the label
    binary = stream.entries.add(line=b"bin \xff\xfe line")
    binary.timestamp.seconds = 1_700_000_001
    result = decode_push(proto_body(request), PB, None)
    assert result.rejected == []
    first, second = result.events
    assert (first["timestamp"], first["message"], first["service"]) == (TS, "hello", "gw")
    assert first["span_id"] == "00f067aa0ba902b7"
    assert first["level"] == "debug"
    assert second["level"] == "info"
    assert first["attributes"] == {"msg": 'a "q"'}
    assert second["message"] == "bin \ufffd\ufffd line"  # invalid UTF-8 replaced, batch kept
    for event in result.events:
        check(event)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_hand_encoded_wire_format_matches_loki_field_numbers() -> None:
    # Built without our descriptor, straight from grafana/loki pkg/push/push.proto numbers.
    timestamp = _varint(1 << 3) + _varint(1_700_000_000) + _varint(2 << 3) + _varint(5)
    label_pair = _field(1, b"k") + _field(2, b"v")
    entry = _field(1, timestamp) + _field(2, b"line!") + _field(3, label_pair)
    stream = _field(1, b'{a="b"}') + _field(2, entry) + _varint(3 << 3) + _varint(99)
    raw = _field(1, stream)
    [event] = decode_push(bytes(cramjam.snappy.compress_raw(raw)), PB, None).events
    assert event["timestamp"] == 1_700_000_000_000_000_005
    assert event["message"] == "line!"
    assert event["attributes"] == {"a": "b", "k": "v"}


def test_bad_entries_rejected_alone() -> None:
    body = json_body(
        [
            {"stream": {"a": "1"}, "values": [[str(TS), "ok"], ["soon", "bad ts"], [str(TS), 5]]},
            {"stream": {"a": 1}, "values": [[str(TS), "bad labels"]]},
            {"stream": {"a": "2"}, "values": [[str(TS), "ok2", {"m": "v"}], [str(TS)]]},
        ]
    )
    result = decode_push(body, "application/json", None)
    assert [e["message"] for e in result.events] == ["ok", "ok2"]
    assert [i for i, _ in result.rejected] == [1, 2, 3, 5]
    request = PushRequest()
    request.streams.add(labels=b"{broken").entries.add(line=b"x").timestamp.seconds = 1
    good = request.streams.add(labels=b'{a="1"}')
    good.entries.add(line=b"no time")
    good.entries.add(line=b"y").timestamp.seconds = 1_700_000_000
    result = decode_push(proto_body(request), PB, None)
    assert [e["message"] for e in result.events] == ["y"]
    assert [(i, r.split(":")[0]) for i, r in result.rejected] == [
        (0, "invalid stream labels"),
        (1, "entry has no timestamp"),
    ]


def test_retry_dedups_by_event_id() -> None:
    body = json_body([{"stream": {"a": "1"}, "values": [[str(TS), "same"]]}])
    first = decode_push(body, "application/json", None).events[0]["event_id"]
    assert decode_push(body, "application/json", None).events[0]["event_id"] == first


def test_unparsable_bodies() -> None:
    request = PushRequest()
    request.streams.add(labels=b'{a="1"}').entries.add(line=b"x" * 100)
    snappy = proto_body(request)
    for body, content_type, encoding in [
        (b"not snappy", PB, None),
        (snappy[: len(snappy) // 2], PB, None),
        (bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff")), PB, None),
        (b"{", "application/json", None),
        (b'{"streams": {}}', "application/json", None),
        (b'{"streams": [{"stream": {}, "values": 3}]}', "application/json", None),
        (b'"\xff"', "application/json", None),
        (b"\x1f\x8b garbage", "application/json", "gzip"),
        (b"{}", "application/json", "br"),
    ]:
        with pytest.raises(LokiDecodeError):
            decode_push(body, content_type, encoding)


def test_decompression_is_bounded() -> None:
    big = json_body([{"stream": {"a": "1"}, "values": [[str(TS), "x" * 10_000]]}])
    with pytest.raises(LokiDecodeError, match="larger than"):
        decode_push(gzip.compress(big), "application/json", "gzip", max_bytes=1000)
    with pytest.raises(LokiDecodeError, match="larger than"):
        decode_push(bytes(cramjam.snappy.compress_raw(big)), PB, None, max_bytes=1000)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512), st.sampled_from([PB, "application/json", ""]))
def test_arbitrary_bytes_raise_only_loki_errors(body: bytes, content_type: str) -> None:
    for candidate in (body, bytes(cramjam.snappy.compress_raw(body))):
        with contextlib.suppress(LokiDecodeError):
            decode_push(candidate, content_type, None)
