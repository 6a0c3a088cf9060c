"""Receivers: pure payload builders and thin senders, one module per channel.

:func:`build_sender` returns the sender of an integration from the alerting config.
"""

from __future__ import annotations

from stacklens.alerting.config_file import IntegrationConfig
from stacklens.alerting.receivers.base import DeliveryError, SendContext, Sender
from stacklens.alerting.receivers.email import EmailSender
from stacklens.alerting.receivers.pagerduty import PagerDutySender
from stacklens.alerting.receivers.slack import SlackSender
from stacklens.alerting.receivers.webhook import WebhookSender

__all__ = ["DeliveryError", "SendContext", "Sender", "build_sender"]


def build_sender(integration: IntegrationConfig) -> Sender:
    kind = integration.kind
    if kind == "webhook":
        return WebhookSender(integration)
    if kind == "slack":
        return SlackSender(integration)
    if kind == "email":
        return EmailSender(integration)
    if kind == "pagerduty":
        return PagerDutySender(integration)
    raise ValueError(f"unknown integration kind {kind!r}")
