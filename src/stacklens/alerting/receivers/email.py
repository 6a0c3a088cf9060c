"""Email over SMTP (stdlib ``smtplib``), one plain-text message per notification.

Settings (or ``global.smtp_*``): ``to`` (comma-separated), ``from``, ``smarthost``
(``host:port``), ``auth_username``, ``auth_password`` (secret), ``require_tls``
(STARTTLS, default true as in Alertmanager).
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

from stacklens.alerting.config_file import IntegrationConfig, Secret
from stacklens.alerting.dispatch import Notification
from stacklens.alerting.receivers.base import (
    DeliveryError,
    SendContext,
    alert_lines,
    generator_url,
    scrub,
    secrets_of,
    title,
)

__all__ = ["EmailSender", "email_message"]


def email_message(
    notification: Notification, settings: dict[str, Any], external_url: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = title(notification)
    message["From"] = str(settings.get("from", "stacklens@localhost"))
    message["To"] = str(settings["to"])
    # Stable across a retry and a failover re-send: mail systems that dedup on
    # Message-ID show the notification once.
    message["Message-ID"] = f"<{notification.idempotency_key}@stacklens.alerts>"
    lines = [title(notification), ""]
    for alert in notification.alerts:
        lines.extend(alert_lines(alert))
        lines.append(f"  source: {generator_url(alert, external_url)}")
        lines.append("")
    lines.append(f"Sent by stacklens ({external_url}); group {notification.group_key}")
    message.set_content("\n".join(lines))
    return message


class EmailSender:
    def __init__(self, integration: IntegrationConfig) -> None:
        self.integration = integration
        self._settings = {
            k: v for k, v in integration.settings.items() if not isinstance(v, Secret)
        }
        password = integration.settings.get("auth_password")
        self._password = password.get() if isinstance(password, Secret) else password
        self._secrets = secrets_of(integration)
        if "smarthost" not in self._settings:
            raise ValueError(f"{integration.id}: email needs smarthost (or global.smtp_smarthost)")

    def send(self, notification: Notification, context: SendContext) -> None:
        message = email_message(notification, self._settings, context.external_url)
        host, _, port = str(self._settings["smarthost"]).rpartition(":")
        try:
            with smtplib.SMTP(
                host or "localhost", int(port or 25), timeout=context.timeout_s
            ) as smtp:
                if self._settings.get("require_tls", True):
                    smtp.starttls()
                if self._settings.get("auth_username") and self._password:
                    smtp.login(str(self._settings["auth_username"]), str(self._password))
                smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                scrub(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", self._secrets),
                retryable=exc.smtp_code < 500,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(scrub(f"{type(exc).__name__}: {exc}", self._secrets)) from None
