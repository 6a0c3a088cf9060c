"""Slack incoming webhook: one message per notification, in the shape of
Alertmanager's default Slack template (an attachment whose colour is the status).

Settings: ``api_url`` (secret), ``channel``, ``username`` (default ``stacklens``),
``text_prefix`` (e.g. ``<!channel> `` for seed 003's critical channel).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from stacklens.alerting.config_file import IntegrationConfig, Secret
from stacklens.alerting.dispatch import Notification
from stacklens.alerting.receivers.base import (
    SendContext,
    alert_lines,
    common,
    post_json,
    secrets_of,
    title,
)
from stacklens.alerting.state import AlertState

__all__ = ["SlackSender", "slack_payload"]


def _color(notification: Notification) -> str:
    if notification.status == "resolved":
        return "good"
    severities = {
        a.labels.get("severity") for a in notification.alerts if a.state is AlertState.FIRING
    }
    return "danger" if "critical" in severities else "warning"


def escape(text: str) -> str:
    """Slack's mrkdwn control characters (api.slack.com "Escaping text"). Alert text
    comes from the data (labels, templated annotations): unescaped, a ``<!channel>`` or
    ``<https://evil|link>`` in it would ping or mislead a whole channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(
    notification: Notification, external_url: str, settings: dict[str, Any]
) -> dict[str, Any]:
    lines: list[str] = []
    for alert in notification.alerts:
        lines.extend(escape(line) for line in alert_lines(alert))
    heading = escape(title(notification))
    alertname = common([a.labels for a in notification.alerts]).get("alertname", "")
    payload: dict[str, Any] = {
        "username": settings.get("username", "stacklens"),
        "text": f"{settings.get('text_prefix', '')}{heading}".strip(),
        "attachments": [
            {
                "color": _color(notification),
                "title": heading,
                "title_link": f"{external_url}/api/v1/alerts?alertname={quote(alertname)}",
                "text": "\n".join(lines),
                "fallback": heading,
                "mrkdwn_in": ["text"],
            }
        ],
    }
    if settings.get("channel"):
        payload["channel"] = settings["channel"]
    return payload


class SlackSender:
    def __init__(self, integration: IntegrationConfig) -> None:
        self.integration = integration
        url = integration.settings["api_url"]
        self._url = url.get() if isinstance(url, Secret) else str(url)
        self._settings = {
            k: v for k, v in integration.settings.items() if not isinstance(v, Secret)
        }
        self._secrets = secrets_of(integration)

    def send(self, notification: Notification, context: SendContext) -> None:
        post_json(
            context,
            self._url,
            slack_payload(notification, context.external_url, self._settings),
            self._secrets,
        )
