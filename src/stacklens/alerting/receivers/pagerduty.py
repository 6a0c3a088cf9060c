"""PagerDuty Events API v2: one event per alert group.

``dedup_key`` is the SHA-256 of the group key (what Alertmanager sends), so the
``resolve`` of a group closes the incident its ``trigger`` opened. A trigger carries
``payload{summary, source, severity, timestamp, custom_details}``; a resolve, like
Alertmanager's, carries none. Settings: ``routing_key`` (secret), ``url`` (default
the public endpoint), ``severity`` (default: the alerts' ``severity`` label when it is
one of critical/error/warning/info, else ``error``), ``source``, ``client``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from stacklens.alerting.config_file import IntegrationConfig, Secret
from stacklens.alerting.dispatch import Notification
from stacklens.alerting.durations import rfc3339
from stacklens.alerting.receivers.base import (
    SendContext,
    alert_lines,
    common,
    post_json,
    secrets_of,
    title,
)
from stacklens.alerting.state import AlertState

__all__ = ["EVENTS_V2_URL", "PagerDutySender", "dedup_key", "pagerduty_event"]

EVENTS_V2_URL: Final = "https://events.pagerduty.com/v2/enqueue"
_SEVERITIES: Final = ("critical", "error", "warning", "info")


def dedup_key(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()


def pagerduty_event(
    notification: Notification, routing_key: str, external_url: str, settings: dict[str, Any]
) -> dict[str, Any]:
    action = "trigger" if notification.status == "firing" else "resolve"
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(notification.group_key),
        "client": settings.get("client", "stacklens"),
        "client_url": settings.get("client_url", external_url),
    }
    if action == "trigger":
        firing = [a for a in notification.alerts if a.state is AlertState.FIRING]
        resolved = [a for a in notification.alerts if a.state is AlertState.RESOLVED]
        labels = common([a.labels for a in notification.alerts])
        severity = settings.get("severity") or labels.get("severity", "error")
        event["payload"] = {
            "summary": title(notification)[:1024],
            "source": settings.get("source") or labels.get("stack_name") or "stacklens",
            "severity": severity if severity in _SEVERITIES else "error",
            "timestamp": rfc3339(min(a.starts_at_ns for a in firing)),
            "custom_details": {
                "firing": "\n".join(line for a in firing for line in alert_lines(a)),
                "resolved": "\n".join(line for a in resolved for line in alert_lines(a)),
                "num_firing": str(len(firing)),
                "num_resolved": str(len(resolved)),
            },
        }
    return event


class PagerDutySender:
    def __init__(self, integration: IntegrationConfig) -> None:
        self.integration = integration
        key = integration.settings["routing_key"]
        self._key = key.get() if isinstance(key, Secret) else str(key)
        url = integration.settings.get("url", EVENTS_V2_URL)
        self._url = url.get() if isinstance(url, Secret) else str(url)
        self._settings = {
            k: v for k, v in integration.settings.items() if not isinstance(v, Secret)
        }
        self._secrets = secrets_of(integration)

    def send(self, notification: Notification, context: SendContext) -> None:
        event = pagerduty_event(notification, self._key, context.external_url, self._settings)
        post_json(context, self._url, event, self._secrets)
