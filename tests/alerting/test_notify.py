"""The composite notify function: every target gets the alerts, whatever another does."""

from __future__ import annotations

from collections.abc import Sequence

from stacklens.alerting.notify import fan_out
from stacklens.alerting.state import Alert, AlertState, fingerprint


def test_fan_out_gives_every_target_the_alerts_even_when_one_raises() -> None:
    labels = {"alertname": "X"}
    alert = Alert("g/X", fingerprint(labels), labels, {}, AlertState.FIRING, 1.0, 0, 0, 0)
    got: list[tuple[str, list[Alert]]] = []

    def first(alerts: Sequence[Alert]) -> None:
        got.append(("first", list(alerts)))

    def broken(alerts: Sequence[Alert]) -> None:
        raise RuntimeError("receiver bug")

    def last(alerts: Sequence[Alert]) -> None:
        got.append(("last", list(alerts)))

    fan_out(first, broken, last)([alert])
    assert got == [("first", [alert]), ("last", [alert])]
