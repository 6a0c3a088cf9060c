"""The retention tiers and how long each keeps its data.

- ``events``: raw events, logs, spans and OTel metric points (default 7 days);
- ``rollups``: the hourly/daily aggregates usage and cost queries read (90 days);
- ``sessions``: session summaries (1 year);
- ``billing``: billing records (7 years).

Raw events feed every other tier, and rollups feed billing, so a tier may not be kept
for a shorter time than the one it is computed from: ``events ≤ rollups ≤ billing`` and
``events ≤ sessions``. Otherwise a figure would outlive the data it was made from in one
place and vanish before it in another; such a configuration is refused at start.

Periods use the hub's duration syntax (``15m``, ``24h``, ``7d``, ``2w``, ``1y``; ``y`` is
365 days). A stack may override any tier (the ``retention:`` key of its entry in the
policy file); its overrides are validated the same way, against the global periods
for the tiers it does not override.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

import msgspec

from stacklens.alerting.durations import format_duration, parse_duration

__all__ = [
    "DEFAULT_PERIODS",
    "FEEDS",
    "TIERS",
    "RetentionError",
    "RetentionPolicy",
    "Tier",
    "TierPeriods",
    "parse_periods",
]

Tier = Literal["events", "rollups", "sessions", "billing"]
TIERS: Final[tuple[Tier, ...]] = get_args(Tier)

DEFAULT_PERIODS: Final[Mapping[Tier, str]] = {
    "events": "7d",
    "rollups": "90d",
    "sessions": "365d",
    "billing": "7y",
}

#: (tier, the tier it is computed from): each must be kept at least as long as its source.
FEEDS: Final[tuple[tuple[Tier, Tier], ...]] = (
    ("rollups", "events"),
    ("sessions", "events"),
    ("billing", "rollups"),
)


class RetentionError(ValueError):
    """A retention setting that cannot be used (unreadable, zero, or shorter than the
    tier it is computed from)."""


class TierPeriods(msgspec.Struct, frozen=True):
    """How long each tier keeps data, in nanoseconds."""

    events: int
    rollups: int
    sessions: int
    billing: int

    def period(self, tier: Tier) -> int:
        value: int = getattr(self, tier)
        return value

    def text(self, tier: Tier) -> str:
        """The period as the hub writes durations (``7d``)."""
        return format_duration(self.period(tier))


def _parse(tier: str, text: object, where: str) -> int:
    try:
        ns = parse_duration(str(text))
    except ValueError as exc:
        raise RetentionError(f"{where}{tier}: {exc}") from None
    if ns <= 0:
        raise RetentionError(f"{where}{tier}: must be longer than 0")
    return ns


def parse_periods(
    values: Mapping[str, object], *, base: TierPeriods | None = None, where: str = ""
) -> TierPeriods:
    """Periods from ``{tier: "7d", ...}``: missing tiers come from ``base`` (else the
    defaults); unknown tiers and inconsistent periods raise :class:`RetentionError`
    naming the setting (``where`` prefixes the name, e.g. ``stack acme: ``)."""
    unknown = sorted(set(values) - set(TIERS))
    if unknown:
        raise RetentionError(f"{where}unknown retention tier {unknown[0]!r} (tiers: {TIERS})")
    periods: dict[str, int] = {}
    for tier in TIERS:
        if tier in values and values[tier] is not None:
            periods[tier] = _parse(tier, values[tier], where)
        elif base is not None:
            periods[tier] = base.period(tier)
        else:
            periods[tier] = _parse(tier, DEFAULT_PERIODS[tier], where)
    result = TierPeriods(**periods)
    for tier, source in FEEDS:
        if result.period(tier) < result.period(source):
            raise RetentionError(
                f"{where}{tier} retention ({result.text(tier)}) is shorter than {source} "
                f"retention ({result.text(source)}), which it is computed from"
            )
    return result


class RetentionPolicy(msgspec.Struct, frozen=True):
    """The global periods and each stack's own."""

    default: TierPeriods
    stacks: Mapping[str, TierPeriods] = msgspec.field(default_factory=dict)

    @classmethod
    def build(
        cls, default: Mapping[str, object], stacks: Mapping[str, Mapping[str, Any]] | None = None
    ) -> RetentionPolicy:
        base = parse_periods(default)
        return cls(
            base,
            {
                name: parse_periods(values, base=base, where=f"stack {name}: ")
                for name, values in (stacks or {}).items()
            },
        )

    def for_stack(self, stack: str | None) -> TierPeriods:
        return self.stacks.get(stack, self.default) if stack is not None else self.default

    def longest(self, tier: Tier) -> int:
        """The longest period any stack keeps ``tier`` for: a whole-day partition can go
        only when every stack is done with it."""
        return max(p.period(tier) for p in (self.default, *self.stacks.values()))
