"""The notify contract between the evaluator and whatever receives its alerts.

An :data:`Notify` function is given, once per evaluator pass (:meth:`Evaluator.tick
<stacklens.alerting.evaluator.Evaluator.tick>`, whether or not a rule group was due),
every alert the evaluator holds as **firing**, plus those **resolved** in the last
15 minutes (:data:`~stacklens.alerting.state.RESOLVED_RETENTION_NS`; their
``resolved_at_ns`` is the ``endsAt``). Pending and inactive series are never sent.
Like Prometheus re-sending every active alert to Alertmanager, each call is the
sender's complete current set: a receiver needs no memory of earlier calls to know what
fires, and dedups repeats itself (the notification log, Alertmanager's fingerprints).

A notify function must not block on a slow receiver (deliver on a worker) and should
not raise; :func:`fan_out` keeps one failing target from starving the others.

Notify functions in the hub: :meth:`NotificationManager.notify
<stacklens.alerting.manager.NotificationManager.notify>` (routing, silences, receivers)
and :class:`~stacklens.alerting.forwarding.AlertmanagerNotify` (an external
Alertmanager's ``/api/v2/alerts``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog

from stacklens.alerting.state import Alert

__all__ = ["Notify", "fan_out"]

log = structlog.get_logger(__name__)

#: ``notify(alerts)``: see the module docstring for what ``alerts`` holds.
Notify = Callable[[Sequence[Alert]], None]


def fan_out(*targets: Notify) -> Notify:
    """One notify function calling each of ``targets`` in turn with the same alerts;
    one that raises is logged and the rest still get the alerts."""

    def notify(alerts: Sequence[Alert]) -> None:
        for target in targets:
            try:
                target(alerts)
            except Exception:  # one receiver's bug must not silence the others
                log.exception("alert notify target failed", target=repr(target))

    return notify
