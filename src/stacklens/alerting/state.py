"""The alert state machine, pure: previous states + this cycle's samples → new states.

Per series (identified by the fingerprint of its labels)::

    inactive ──true──▶ pending ──true for `for`──▶ firing ──false past keep_firing_for──▶ resolved
        ▲                 │ false                                                          │
        └─────────────────┘                                          kept 15 min, then dropped

``for: 0`` goes from inactive to firing in one step. A resolved series that turns
true again starts a new pending period. Times are epoch nanoseconds from an injected
clock; nothing here reads the time or does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

__all__ = [
    "RESOLVED_RETENTION_NS",
    "Alert",
    "AlertState",
    "Sample",
    "Transition",
    "fingerprint",
    "step",
]

#: How long a resolved alert is kept (and re-sent as resolved), like Prometheus.
RESOLVED_RETENTION_NS: Final = 15 * 60 * 10**9

_FNV_OFFSET: Final = 14695981039346656037
_FNV_PRIME: Final = 1099511628211
_MASK: Final = (1 << 64) - 1


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: FNV-1a 64 over the sorted
    ``name 0xff value 0xff`` bytes, as 16 hex digits (the webhook's ``fingerprint``)."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for chunk in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in chunk:
                value ^= byte
                value = (value * _FNV_PRIME) & _MASK
    return f"{value:016x}"


class AlertState(enum.StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Sample:
    """One series for which the condition holds this cycle."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    value: float
    #: The value's unit (:func:`stacklens.alerting.rules.rule_unit`), for display.
    unit: str = ""


@dataclass(frozen=True)
class Alert:
    rule_key: str
    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: AlertState
    value: float
    #: When the condition became true (start of pending); ``startsAt`` once firing.
    active_at_ns: int
    last_true_ns: int
    fired_at_ns: int | None = None
    resolved_at_ns: int | None = None
    #: Display only, not persisted: the next evaluation sets it again after a restart.
    unit: str = ""

    @property
    def starts_at_ns(self) -> int:
        return self.fired_at_ns if self.fired_at_ns is not None else self.active_at_ns


@dataclass(frozen=True)
class Transition:
    rule_key: str
    fingerprint: str
    labels: Mapping[str, str]
    previous: AlertState
    current: AlertState
    at_ns: int
    value: float


def _transition(alert: Alert, previous: AlertState, now_ns: int) -> Transition:
    return Transition(
        alert.rule_key, alert.fingerprint, alert.labels, previous, alert.state, now_ns, alert.value
    )


def step(
    rule_key: str,
    for_ns: int,
    keep_firing_for_ns: int,
    previous: Mapping[str, Alert],
    samples: Mapping[str, Sample],
    now_ns: int,
    *,
    resolved_retention_ns: int = RESOLVED_RETENTION_NS,
) -> tuple[dict[str, Alert], list[Transition]]:
    """Advance one rule by one evaluation. ``samples`` and the result are keyed by
    fingerprint; the result holds pending, firing and recently resolved alerts."""
    current: dict[str, Alert] = {}
    transitions: list[Transition] = []
    for fp, sample in samples.items():
        prior = previous.get(fp)
        if prior is None or prior.state is AlertState.RESOLVED:
            state = AlertState.FIRING if for_ns <= 0 else AlertState.PENDING
            alert = Alert(
                rule_key,
                fp,
                dict(sample.labels),
                dict(sample.annotations),
                state,
                sample.value,
                active_at_ns=now_ns,
                last_true_ns=now_ns,
                fired_at_ns=now_ns if state is AlertState.FIRING else None,
                unit=sample.unit,
            )
            transitions.append(_transition(alert, AlertState.INACTIVE, now_ns))
        else:
            alert = replace(
                prior,
                labels=dict(sample.labels),
                annotations=dict(sample.annotations),
                value=sample.value,
                last_true_ns=now_ns,
                unit=sample.unit,
            )
            if prior.state is AlertState.PENDING and now_ns - prior.active_at_ns >= for_ns:
                alert = replace(alert, state=AlertState.FIRING, fired_at_ns=now_ns)
                transitions.append(_transition(alert, AlertState.PENDING, now_ns))
        current[fp] = alert
    for fp, prior in previous.items():
        if fp in samples:
            continue
        if prior.state is AlertState.PENDING:
            gone = replace(prior, state=AlertState.INACTIVE)
            transitions.append(_transition(gone, AlertState.PENDING, now_ns))
        elif prior.state is AlertState.FIRING:
            if keep_firing_for_ns > 0 and now_ns - prior.last_true_ns < keep_firing_for_ns:
                current[fp] = prior
                continue
            resolved = replace(prior, state=AlertState.RESOLVED, resolved_at_ns=now_ns)
            current[fp] = resolved
            transitions.append(_transition(resolved, AlertState.FIRING, now_ns))
        elif prior.state is AlertState.RESOLVED:
            resolved_at = prior.resolved_at_ns if prior.resolved_at_ns is not None else now_ns
            if now_ns - resolved_at < resolved_retention_ns:
                current[fp] = prior
    return current, transitions
