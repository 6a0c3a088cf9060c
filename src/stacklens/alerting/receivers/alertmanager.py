"""The wire code of forwarding to an existing Alertmanager: ``POST /api/v2/alerts``, as
Prometheus does (the notify function using it: :mod:`stacklens.alerting.forwarding`).

Every firing alert is sent with ``endsAt`` in the future (``4 * resend_delay``) and
re-sent every ``resend_delay`` — well before that ``endsAt``, so Alertmanager never
times it out while it fires; a resolved alert is sent with its real ``endsAt`` (and
re-sent while the evaluator keeps it, 15 minutes). Alertmanager then does its own
grouping, silencing and routing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stacklens.alerting.config_file import ForwardTarget, redact_url
from stacklens.alerting.durations import rfc3339
from stacklens.alerting.receivers.base import DeliveryError, SendContext, generator_url, post_json
from stacklens.alerting.state import Alert, AlertState

__all__ = ["AlertmanagerForwarder", "forward_payload", "needs_sending"]


def needs_sending(
    alert: Alert, last_sent_ns: int | None, now_ns: int, resend_delay_ns: int
) -> bool:
    """Prometheus' ``needsSending``: never sent, resolved since, or due again."""
    if alert.state not in (AlertState.FIRING, AlertState.RESOLVED):
        return False
    if last_sent_ns is None:
        return True
    if alert.resolved_at_ns is not None and alert.resolved_at_ns > last_sent_ns:
        return True
    return last_sent_ns + resend_delay_ns <= now_ns


def forward_payload(
    alerts: Iterable[Alert], now_ns: int, resend_delay_ns: int, external_url: str
) -> list[dict[str, Any]]:
    out = []
    for alert in alerts:
        if alert.state is AlertState.FIRING:
            ends = now_ns + 4 * resend_delay_ns
        else:
            ends = alert.resolved_at_ns if alert.resolved_at_ns is not None else now_ns
        out.append(
            {
                "labels": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "startsAt": rfc3339(alert.starts_at_ns),
                "endsAt": rfc3339(ends),
                "generatorURL": generator_url(alert, external_url),
            }
        )
    return out


class AlertmanagerForwarder:
    """Remembers when each alert was last sent to one Alertmanager (in memory: after a
    restart everything is re-sent once, which Alertmanager deduplicates)."""

    def __init__(self, target: ForwardTarget, index: int = 0) -> None:
        self.target = target
        self.id = f"alertmanager/forward/{index}"
        self._last_sent: dict[str, int] = {}

    def redacted_target(self) -> str:
        return redact_url(self.target.url)

    def due(self, alerts: Iterable[Alert], now_ns: int) -> list[Alert]:
        return [
            a
            for a in alerts
            if needs_sending(
                a, self._last_sent.get(a.fingerprint), now_ns, self.target.resend_delay_ns
            )
        ]

    def send(self, alerts: list[Alert], context: SendContext) -> None:
        if not alerts:
            return
        body = forward_payload(
            alerts, context.now_ns, self.target.resend_delay_ns, context.external_url
        )
        try:
            post_json(context, f"{self.target.url}/api/v2/alerts", body, [self.target.url])
        except DeliveryError as exc:
            raise DeliveryError(str(exc).replace(self.target.url, self.redacted_target())) from None
        for alert in alerts:
            self._last_sent[alert.fingerprint] = context.now_ns
        live = {a.fingerprint for a in alerts}
        if len(self._last_sent) > 10 * max(len(live), 1000):
            self._last_sent = {k: v for k, v in self._last_sent.items() if k in live}
