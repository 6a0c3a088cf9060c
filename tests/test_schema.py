from __future__ import annotations

import msgspec
import pytest

from stacklens.event_schema import json_schema
from stacklens.schema import EventError, Limits, MaxAge, normalize, parse_timestamp, to_row
from stacklens.testing import SequentialIds

NOW = 1_769_904_000 * 10**9  # 2026-02-01T00:00:00Z


def norm(raw: object, stack: str | None = "s1", **kw: object) -> dict:
    return normalize(raw, default_stack=stack, now_ns=NOW, new_id=SequentialIds("gen"), **kw)  # type: ignore[arg-type]


def test_seed_schema_example_normalizes_to_typed_row() -> None:
    raw = {
        "timestamp": "2026-01-10T12:00:00.000Z",
        "stack_name": "john-dev",
        "session_id": "sess_abc123",
        "event_type": "tool_use",
        "data": {
            "role": "user",
            "model": "glm-4.7-free",
            "agent": "sisyphus",
            "tool": "bash",
            "tokens_in": 1500,
            "tokens_out": 500,
            "duration_ms": 2340,
            "success": True,
            "error_code": None,
        },
    }
    event = norm(raw)
    assert event["timestamp"] == 1_768_046_400 * 10**9
    assert event["event_id"] == "gen000001"
    row = to_row(event, received_ns=NOW)
    assert (row.stack_name, row.tool, row.tokens_in, row.tokens_out) == (
        "john-dev",
        "bash",
        1500,
        500,
    )
    assert row.duration_ms == 2340.0 and row.success is True and row.error_code is None


def test_camel_case_hook_fields_are_normalized() -> None:
    raw = {
        "type": "tool_use",
        "stackName": "john-dev",
        "sessionId": "s-1",
        "tool": "bash",
        "argsHash": "abc",
        "success": False,
        "duration": 12,
        "timestamp": "2026-01-10T12:00:00Z",
        "contentHash": "h",
        "contentLength": 42,
    }
    event = norm(raw, stack=None)
    assert event["event_type"] == "tool_use" and event["stack_name"] == "john-dev"
    assert event["session_id"] == "s-1"
    assert event["data"] == {
        "tool": "bash",
        "args_hash": "abc",
        "success": False,
        "duration_ms": 12.0,
        "content_hash": "h",
        "content_length": 42,
    }


def test_epoch_nanoseconds_and_offsets() -> None:
    assert parse_timestamp(1_768_046_400_123_456_789) == 1_768_046_400_123_456_789
    assert parse_timestamp("2026-01-10T13:00:00+01:00") == 1_768_046_400 * 10**9
    with pytest.raises(EventError, match="nanoseconds"):
        parse_timestamp(1_768_046_400)  # seconds, not ns
    with pytest.raises(EventError, match="UTC offset"):
        parse_timestamp("2026-01-10T12:00:00")
    with pytest.raises(EventError, match="RFC 3339"):
        parse_timestamp("yesterday")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"timestamp": "2026-01-01T00:00:00Z"}, "event_type is required"),
        ({"event_type": "nope", "timestamp": "2026-01-01T00:00:00Z"}, "is not one of"),
        ({"event_type": "log"}, "timestamp is required"),
        (
            {"event_type": "log", "timestamp": "2026-01-01T00:00:00Z", "stack_name": "Bad Name"},
            "stack_name must match",
        ),
        (
            {"event_type": "log", "timestamp": "2026-01-01T00:00:00Z", "data": {"tokens_in": -1}},
            "must not be negative",
        ),
        (
            {
                "event_type": "log",
                "timestamp": "2026-01-01T00:00:00Z",
                "data": {"tokens_in": "lots"},
            },
            "must be an integer",
        ),
        (
            {"event_type": "log", "timestamp": "2026-01-01T00:00:00Z", "data": {"cost_usd": "NaN"}},
            "finite",
        ),
        (
            {"event_type": "log", "timestamp": "2026-01-01T00:00:00Z", "data": []},
            "data must be an object",
        ),
        ({"event_type": "log", "timestamp": "2099-01-01T00:00:00Z"}, "future"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_contract_violations_name_the_problem(raw: object, reason: str) -> None:
    with pytest.raises(EventError, match=reason):
        norm(raw)


def test_missing_stack_without_default_is_refused() -> None:
    with pytest.raises(EventError, match="stack_name is required"):
        norm({"event_type": "log", "timestamp": "2026-01-01T00:00:00Z"}, stack=None)


def test_unknown_keys_become_attributes_never_rejections() -> None:
    event = norm(
        {
            "event_type": "llm_call",
            "timestamp": "2026-01-01T00:00:00Z",
            "data": {"model": "m", "temperature": 0.2, "mcp_server": "github"},
            "attributes": {"region": "eu", "nested": {"deep": 1}},
            "extra_top": "kept",
        }
    )
    row = to_row(event, 0)
    assert row.model == "m"
    assert msgspec.json.decode(row.attributes) == {
        "region": "eu",
        "nested.deep": 1,
        "extra_top": "kept",
        "temperature": 0.2,
        "mcp_server": "github",
    }


def test_limits_bound_attribute_count_and_string_size() -> None:
    limits = Limits(max_attributes=3, max_string_bytes=10)
    base = {"event_type": "log", "timestamp": "2026-01-01T00:00:00Z"}
    with pytest.raises(EventError, match="more than 3 attributes"):
        norm({**base, "attributes": {str(i): i for i in range(4)}}, limits=limits)
    with pytest.raises(EventError, match="longer than 10"):
        norm({**base, "attributes": {"a": "x" * 11}}, limits=limits)


def test_an_event_older_than_events_retention_is_refused_naming_it() -> None:
    day = 86400 * 10**9
    limits = Limits(
        max_age=MaxAge(7 * day, "7d"), max_age_by_stack={"acme": MaxAge(30 * day, "30d")}
    )
    old = {"event_type": "log", "timestamp": "2026-01-20T00:00:00Z"}  # 12 days before NOW
    with pytest.raises(EventError, match=r"^older than events retention \(7d\)$"):
        norm(old, limits=limits)
    assert norm(old, stack="acme", limits=limits)["timestamp"] == NOW - 12 * day
    # A little late but inside retention is accepted as it is (it lands in its own day).
    late = norm({**old, "timestamp": "2026-01-25T00:00:01Z"}, limits=limits)
    assert late["timestamp"] == NOW - 7 * day + 10**9
    with pytest.raises(EventError, match=r"older than events retention \(30d\)"):
        norm({**old, "timestamp": "2025-12-01T00:00:00Z"}, stack="acme", limits=limits)
    assert norm(old)["timestamp"] == NOW - 12 * day  # no retention given: any age


def test_json_schema_lists_event_types_and_stack_pattern() -> None:
    schema = json_schema()
    event = schema["$defs"]["Event"]
    assert "llm_call" in event["properties"]["event_type"]["enum"]
    assert event["properties"]["stack_name"]["pattern"].startswith("^[a-z0-9]")
    assert set(event["required"]) == {"timestamp", "event_type"}


# -- bounds: every value that reaches the store fits its column and the rollup sums --

_TS = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "timestamp",
    ["0001-01-01T00:00:00Z", "1677-09-21T00:12:43Z", "1969-12-31T23:59:59Z", 2**63, 2**64],
)
def test_timestamps_out_of_range_are_refused_naming_the_field(timestamp: object) -> None:
    with pytest.raises(EventError, match=r"timestamp"):
        norm({"event_type": "log", "timestamp": timestamp})


def test_text_timestamps_at_the_range_edges() -> None:
    assert parse_timestamp("1970-01-01T00:00:00Z") == 0
    with pytest.raises(EventError, match=r"timestamp: out of range \(1970-01-01\.\.2262-04-11\)"):
        parse_timestamp("0001-01-01T00:00:00Z")
    with pytest.raises(EventError, match="out of range"):
        parse_timestamp("2262-04-12T00:00:00Z")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"tokens_in": 2**63 - 1}, "data.tokens_in"),
        ({"tokens_out": 10**9 + 1}, "data.tokens_out"),
        ({"tokens_cache_read": "9223372036854775807"}, "data.tokens_cache_read"),
        ({"cost_usd": 1e308}, "data.cost_usd"),
        ({"cost_usd": -1e308}, "data.cost_usd"),
        ({"cost_usd": -0.01}, "data.cost_usd"),
        ({"duration_ms": -1}, "data.duration_ms"),
        ({"duration_ms": 1e300}, "data.duration_ms"),
        ({"score": 1e300}, "data.score"),
        ({"status_code": 10**6}, "data.status_code"),
        ({"content_length": 2**60}, "data.content_length"),
    ],
)
def test_numbers_out_of_range_are_refused_naming_the_field(
    data: dict[str, object], field: str
) -> None:
    with pytest.raises(EventError, match=f"{field}.*(out of range|negative)"):
        norm({"event_type": "llm_call", "timestamp": _TS, "data": data})


def test_ordinary_numbers_still_pass() -> None:
    event = norm(
        {
            "event_type": "llm_call",
            "timestamp": _TS,
            "data": {"tokens_in": 10**9, "cost_usd": 12.5, "duration_ms": 0, "score": -1},
        }
    )
    assert event["data"] == {
        "tokens_in": 10**9,
        "cost_usd": 12.5,
        "duration_ms": 0.0,
        "score": -1.0,
    }


def test_unknown_data_keys_have_the_limits_of_attributes() -> None:
    base = {"event_type": "log", "timestamp": _TS}
    for where in ("data", "attributes"):
        with pytest.raises(EventError, match="longer than"):
            norm({**base, where: {"blob": "x" * 100_000}})
        with pytest.raises(EventError, match="more than 256 attributes"):
            norm({**base, where: {f"k{i}": i for i in range(1000)}})
    # attributes are scalars or lists of scalars; an unknown data key is never a reason
    # to refuse an event, so a list of objects there is kept whole, bounded as one string.
    with pytest.raises(EventError, match="scalar"):
        norm({**base, "attributes": {"rows": [{"a": 1}]}})
    assert norm({**base, "data": {"rows": [{"a": 1}]}})["data"]["rows"] == [{"a": 1}]
    with pytest.raises(EventError, match="longer than"):
        norm({**base, "data": {"rows": [{"a": "x" * 1000}] * 100}})
    # The attribute count is shared wherever a value ends up.
    with pytest.raises(EventError, match="more than 256 attributes"):
        norm(
            {
                **base,
                "attributes": {f"a{i}": i for i in range(200)},
                "data": {f"d{i}": i for i in range(100)},
            }
        )
    kept = norm({**base, "data": {"note": "short", "nested": {"a": 1}}})
    assert kept["data"] == {"note": "short", "nested": {"a": 1}}


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    deep: object = 1
    for _ in range(500):
        deep = {"a": deep}
    base = {"event_type": "log", "timestamp": _TS}
    for raw in ({**base, "attributes": deep}, {**base, "data": {"x": deep}}):
        with pytest.raises(EventError, match="nested deeper"):
            norm(raw)
    args: object = [1]
    for _ in range(500):
        args = [args]
    with pytest.raises(EventError, match=r"data\.args is nested deeper"):
        norm({**base, "data": {"args": args}})
