"""Generic webhook: Alertmanager's webhook payload, version 4, field for field.

``max_alerts`` (0 = all) truncates ``alerts`` and reports the rest in
``truncatedAlerts``, as Alertmanager does.

Every POST carries ``Idempotency-Key``: the notification's
(:attr:`~stacklens.alerting.dispatch.Notification.idempotency_key`), the same on a retry
and on a new leader's re-send after a failover, so a receiver that dedups on it is
notified exactly once. The body stays Alertmanager's.
"""

from __future__ import annotations

from typing import Any

from stacklens.alerting.config_file import IntegrationConfig, Secret
from stacklens.alerting.dispatch import Notification
from stacklens.alerting.receivers.base import SendContext, alert_json, common, post_json, secrets_of

__all__ = ["IDEMPOTENCY_HEADER", "WebhookSender", "webhook_payload"]

IDEMPOTENCY_HEADER = "Idempotency-Key"


def webhook_payload(
    notification: Notification, external_url: str, max_alerts: int = 0
) -> dict[str, Any]:
    alerts = list(notification.alerts)
    truncated = 0
    if max_alerts > 0 and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": truncated,
        "status": notification.status,
        "receiver": notification.integration.receiver,
        "groupLabels": dict(notification.group_labels),
        "commonLabels": common([a.labels for a in notification.alerts]),
        "commonAnnotations": common([a.annotations for a in notification.alerts]),
        "externalURL": external_url,
        "alerts": [alert_json(a, external_url) for a in alerts],
    }


class WebhookSender:
    def __init__(self, integration: IntegrationConfig) -> None:
        self.integration = integration
        url = integration.settings["url"]
        self._url = url.get() if isinstance(url, Secret) else str(url)
        self._max_alerts = int(integration.settings.get("max_alerts", 0))
        self._secrets = secrets_of(integration)

    def send(self, notification: Notification, context: SendContext) -> None:
        body = webhook_payload(notification, context.external_url, self._max_alerts)
        headers = {IDEMPOTENCY_HEADER: notification.idempotency_key}
        post_json(context, self._url, body, self._secrets, headers)
