"""normalize's inline fast paths (issue 19) give exactly what the general path gives:
the routing copy skipped for an event whose keys are all canonical, and the data checks
inlined for in-bounds values of a field's own type."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stacklens.event_checks import DATA_CHECKS as CHECKS
from stacklens.event_checks import check_data
from stacklens.schema import DEFAULT_LIMITS as LIMITS
from stacklens.schema import EventError, normalize

_TS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
_NOW = _TS + 10**9

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["x" * (LIMITS.max_string_bytes + 1), "12", "-3", " 7 ", "1e3"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
fields = st.sampled_from([*sorted(CHECKS), "unknown_key", "durationMs"])


def _one_by_one(data: dict[str, Any]) -> dict[str, Any] | str:
    """The general path: every value through its field's check."""
    out: dict[str, Any] = {}
    try:
        for key, value in data.items():
            if value is None:
                continue
            check = CHECKS.get(key)
            out[key] = value if check is None else check(key, value, LIMITS)
    except EventError as exc:
        return str(exc)
    return out


def _inlined(data: dict[str, Any]) -> dict[str, Any] | str:
    try:
        return check_data(data, LIMITS)
    except EventError as exc:
        return str(exc)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(fields, values, max_size=6))
def test_inlined_data_checks_agree_with_each_fields_check(data: dict[str, Any]) -> None:
    general, fast = _one_by_one(data), _inlined(data)
    if isinstance(general, str) or isinstance(fast, str):
        assert general == fast
        return
    assert list(general) == list(fast)
    assert all(_same(general[k], fast[k]) for k in general), (general, fast)


@pytest.mark.parametrize(
    "data",
    [
        {"duration_ms": 429},  # an int for a float field: stored as a float
        {"durationMs": 12.5, "tokensIn": 3},  # aliases inside data
        {"duration_ms": 1.0, "durationMs": 2.0},  # both: the later one wins
        {"cost_usd": math.inf},
        {"tokens_in": True},
        {"success": 1},
        {"model": "m" * (LIMITS.max_string_bytes + 1)},
        {"content": "some text", "args": {"path": "a"}, "custom": {"k": 1}},
    ],
)
def test_canonical_event_reads_the_same_as_a_routed_one(data: dict[str, Any]) -> None:
    """An event whose keys are all canonical skips routing; with one unknown key added
    it is routed. Both give the same event (bar that key's attribute) or reason."""
    event = {
        "event_id": "e1",
        "timestamp": _TS,
        "stack_name": "alpha",
        "event_type": "llm_call",
        "session_id": "s",
        "data": data,
    }

    def run(raw: dict[str, Any]) -> dict[str, Any] | str:
        try:
            return normalize(raw, default_stack=None, now_ns=_NOW, new_id=lambda: "id")
        except EventError as exc:
            return str(exc)

    direct = run(event)
    routed = run({**event, "zz_unknown": "v"})
    if isinstance(direct, str):
        assert routed == direct
        return
    assert isinstance(routed, dict)
    assert routed["attributes"].pop("zz_unknown") == "v"
    assert repr(direct) == repr(routed)
