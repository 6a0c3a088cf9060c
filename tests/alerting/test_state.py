"""The state machine, with an injected clock (plain integers)."""

from __future__ import annotations

from stacklens.alerting.state import (
    RESOLVED_RETENTION_NS,
    AlertState,
    Sample,
    fingerprint,
    step,
)

S = 10**9
LABELS = {"alertname": "HighErrorRate", "stack_name": "alpha"}
FP = fingerprint(LABELS)


def sample(value: float = 1.0) -> dict[str, Sample]:
    return {FP: Sample(LABELS, {"summary": f"v={value}"}, value)}


def run(for_s: int, keep_s: int, pattern: list[bool], every_s: int = 30) -> list[AlertState]:
    alerts: dict = {}
    states = []
    for i, true in enumerate(pattern):
        alerts, _ = step(
            "g/r", for_s * S, keep_s * S, alerts, sample() if true else {}, i * every_s * S
        )
        states.append(alerts[FP].state if FP in alerts else AlertState.INACTIVE)
    return states


P, F, R, N = AlertState.PENDING, AlertState.FIRING, AlertState.RESOLVED, AlertState.INACTIVE


def test_pending_then_firing_after_for_then_resolved() -> None:
    assert run(60, 0, [True, True, True, True, False, False]) == [P, P, F, F, R, R]


def test_for_zero_fires_at_once() -> None:
    assert run(0, 0, [True, False]) == [F, R]


def test_pending_that_turns_false_goes_back_to_inactive() -> None:
    assert run(90, 0, [True, True, False, True]) == [P, P, N, P]


def test_keep_firing_for_holds_a_firing_alert() -> None:
    assert run(0, 90, [True, False, False, False]) == [F, F, F, R]


def test_flapping_back_to_true_starts_a_new_pending_period() -> None:
    assert run(30, 0, [True, True, False, True, True]) == [P, F, R, P, F]


def test_transitions_and_timestamps() -> None:
    alerts, t1 = step("g/r", 60 * S, 0, {}, sample(0.2), 100 * S)
    assert [(t.previous, t.current) for t in t1] == [(N, P)]
    alerts, t2 = step("g/r", 60 * S, 0, alerts, sample(0.3), 160 * S)
    assert [(t.previous, t.current) for t in t2] == [(P, F)]
    alert = alerts[FP]
    assert (alert.active_at_ns, alert.fired_at_ns, alert.value) == (100 * S, 160 * S, 0.3)
    assert alert.annotations == {"summary": "v=0.3"}
    alerts, t3 = step("g/r", 60 * S, 0, alerts, {}, 190 * S)
    assert [(t.previous, t.current) for t in t3] == [(F, R)]
    assert alerts[FP].resolved_at_ns == 190 * S
    alerts, _ = step("g/r", 60 * S, 0, alerts, {}, 190 * S + RESOLVED_RETENTION_NS)
    assert alerts == {}


def test_each_series_is_independent() -> None:
    other = {"alertname": "HighErrorRate", "stack_name": "beta"}
    both = {**sample(), fingerprint(other): Sample(other, {}, 5.0)}
    alerts, _ = step("g/r", 0, 0, {}, both, 0)
    alerts, _ = step("g/r", 0, 0, alerts, sample(), 30 * S)
    assert alerts[FP].state is F
    assert alerts[fingerprint(other)].state is R


def test_fingerprint_is_alertmanagers() -> None:
    # FNV-1a 64 offset basis: Alertmanager's fingerprint of the empty label set.
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1"}) != fingerprint({"a": "2"})
