"""The raw-retention guard: a figure computed from raw events over a window that
starts before the oldest raw day still kept would be silently short, so it is refused
with the retention named instead (the API answers 400).

Rollup-backed figures (usage on whole hours, cost, billing, sessions) stay answerable
over expired raw days: they never read raw events.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from stacklens.retention.expiry import DAY_NS, day_of
from stacklens.retention.tiers import RetentionPolicy, TierPeriods
from stacklens.schema import DEFAULT_LIMITS, Limits, MaxAge

__all__ = [
    "OutsideRetentionError",
    "RawHorizon",
    "door_limits",
    "outside_message",
    "raw_horizon",
]

#: ``(stacks, now_ns) -> (first retained instant in ns, the period as text)``.
RawHorizon = Callable[[tuple[str, ...] | None, int], tuple[int, str]]


class OutsideRetentionError(ValueError):
    """A figure that needs raw events asked for a range they are no longer kept for."""


def raw_horizon(policy: RetentionPolicy) -> RawHorizon:
    """The start of the oldest raw day every one of ``stacks`` still keeps (all
    stacks: the shortest events period of any), and that period."""

    def horizon(stacks: tuple[str, ...] | None, now_ns: int) -> tuple[int, str]:
        if stacks is None:
            periods = [policy.default, *policy.stacks.values()]
        else:
            periods = [policy.for_stack(s) for s in stacks] or [policy.default]
        shortest = min(periods, key=lambda p: p.events)
        moment = now_ns - shortest.events
        return moment - moment % DAY_NS, shortest.text("events")

    return horizon


def outside_message(field: str, kept_from_ns: int, period: str) -> str:
    return (
        f"{field} is outside raw events retention ({period}): raw events are kept from "
        f"{day_of(kept_from_ns).isoformat()}"
    )


def door_limits(policy: RetentionPolicy, base: Limits = DEFAULT_LIMITS) -> Limits:
    """``base`` with events retention as the oldest event each stack may send
    (``normalize(..., limits=door_limits(policy))``; OTLP doors call
    :meth:`Limits.age_error`)."""

    def age(periods: TierPeriods) -> MaxAge:
        return MaxAge(periods.events, periods.text("events"))

    return msgspec.structs.replace(
        base,
        max_age=age(policy.default),
        max_age_by_stack={name: age(p) for name, p in policy.stacks.items()},
    )
