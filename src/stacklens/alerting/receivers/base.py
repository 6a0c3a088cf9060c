"""What every receiver shares: the sender protocol, delivery errors with secrets
scrubbed, Alertmanager's template data (common labels, title) and an HTTP POST."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from stacklens.alerting.config_file import IntegrationConfig
from stacklens.alerting.config_secrets import Secret, scrub
from stacklens.alerting.dispatch import Notification
from stacklens.alerting.durations import rfc3339
from stacklens.alerting.message_templates import format_with_unit
from stacklens.alerting.state import Alert, AlertState

__all__ = [
    "ZERO_TIME",
    "DeliveryError",
    "SendContext",
    "Sender",
    "alert_json",
    "common",
    "post_json",
    "scrub",
    "title",
]

#: Go's zero time, which Alertmanager sends as ``endsAt`` of a firing alert.
ZERO_TIME = "0001-01-01T00:00:00Z"


class DeliveryError(Exception):
    """A failed delivery; ``retryable`` is false for errors a retry cannot fix (4xx)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class SendContext:
    now_ns: int
    external_url: str
    timeout_s: float
    client: httpx.Client


class Sender(Protocol):
    integration: IntegrationConfig

    def send(self, notification: Notification, context: SendContext) -> None:
        """Deliver once; raise :class:`DeliveryError` on failure."""
        ...


def secrets_of(integration: IntegrationConfig) -> list[str]:
    return [v.get() for v in integration.settings.values() if isinstance(v, Secret) and v.get()]


def alert_json(alert: Alert, external_url: str) -> dict[str, Any]:
    """One alert of Alertmanager's webhook payload (``endsAt`` zero while firing)."""
    firing = alert.state is AlertState.FIRING
    ends = ZERO_TIME if firing or alert.resolved_at_ns is None else rfc3339(alert.resolved_at_ns)
    return {
        "status": "firing" if firing else "resolved",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": rfc3339(alert.starts_at_ns),
        "endsAt": ends,
        "generatorURL": generator_url(alert, external_url),
        "fingerprint": alert.fingerprint,
    }


def generator_url(alert: Alert, external_url: str) -> str:
    return f"{external_url}/api/v1/alerts?rule={alert.rule_key}"


def common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The pairs every mapping shares (``commonLabels``, ``commonAnnotations``)."""
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def title(notification: Notification) -> str:
    """``[FIRING:2] HighErrorRate (stack_name="a")``: Alertmanager's default title."""
    firing = sum(1 for a in notification.alerts if a.state is AlertState.FIRING)
    status = notification.status.upper()
    head = f"[{status}:{firing}]" if status == "FIRING" else f"[{status}]"
    labels = common([a.labels for a in notification.alerts])
    name = labels.get("alertname", "")
    rest = " ".join(
        f"{k}={v}" for k, v in sorted(notification.group_labels.items()) if k != "alertname"
    )
    return " ".join(part for part in (head, name, f"({rest})" if rest else "") if part)


def alert_lines(alert: Alert) -> list[str]:
    summary = alert.annotations.get("summary") or alert.labels.get("alertname", "")
    lines = [f"{'FIRING' if alert.state is AlertState.FIRING else 'RESOLVED'}: {summary}"]
    if alert.annotations.get("description"):
        lines.append(f"  {alert.annotations['description']}")
    lines.append(f"  value: {format_with_unit(alert.value, alert.unit)}")
    lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())))
    return lines


def post_json(
    context: SendContext,
    url: str,
    body: Any,
    secrets: Iterable[str],
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST JSON; raise :class:`DeliveryError` (secrets scrubbed) unless 2xx."""
    try:
        response = context.client.post(
            url,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=context.timeout_s,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(scrub(f"{type(exc).__name__}: {exc}", secrets)) from None
    if response.status_code >= 300:
        retryable = response.status_code >= 500 or response.status_code == 429
        raise DeliveryError(
            scrub(f"HTTP {response.status_code}: {response.text[:200]}", secrets),
            retryable=retryable,
        )
    return response
