"""Retention tiers: defaults, overrides, and the refusal of inconsistent periods."""

from __future__ import annotations

import pytest

from stacklens.retention.tiers import RetentionError, RetentionPolicy, parse_periods

DAY = 86400 * 10**9


def test_defaults_are_seven_days_ninety_days_a_year_and_seven_years() -> None:
    periods = parse_periods({})
    assert (periods.events, periods.rollups, periods.sessions, periods.billing) == (
        7 * DAY,
        90 * DAY,
        365 * DAY,
        7 * 365 * DAY,
    )
    assert periods.text("events") == "7d"


def test_a_tier_shorter_than_its_source_is_refused_by_name() -> None:
    with pytest.raises(RetentionError, match=r"rollups retention \(2d\) is shorter than events"):
        parse_periods({"events": "7d", "rollups": "2d"})
    with pytest.raises(RetentionError, match="billing retention"):
        parse_periods({"billing": "30d"})
    with pytest.raises(RetentionError, match="events: "):
        parse_periods({"events": "soon"})
    with pytest.raises(RetentionError, match="unknown retention tier 'logs'"):
        parse_periods({"logs": "7d"})
    with pytest.raises(RetentionError, match="longer than 0"):
        parse_periods({"events": "0"})


def test_a_stack_overrides_some_tiers_and_is_checked_against_the_rest() -> None:
    policy = RetentionPolicy.build({"events": "3d"}, {"acme": {"events": "30d"}})
    assert policy.for_stack("acme").events == 30 * DAY
    assert policy.for_stack("acme").rollups == 90 * DAY
    assert policy.for_stack("other").events == 3 * DAY
    assert policy.longest("events") == 30 * DAY
    with pytest.raises(RetentionError, match="stack acme: rollups"):
        RetentionPolicy.build({}, {"acme": {"events": "120d"}})
