"""The alerting configuration as plain data (parsed by :mod:`stacklens.alerting.config_file`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stacklens.alerting.config_secrets import Secret, redact_url
from stacklens.alerting.dispatch import Integration
from stacklens.alerting.routing import InhibitRule, Route

__all__ = ["AlertingConfig", "ForwardTarget", "IntegrationConfig", "NotifyPolicy"]


@dataclass(frozen=True)
class IntegrationConfig:
    kind: str  # webhook | slack | email | pagerduty
    receiver: str
    index: int
    send_resolved: bool
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.receiver}/{self.kind}/{self.index}"

    def ref(self) -> Integration:
        return Integration(self.id, self.receiver, self.send_resolved)

    def target(self) -> str:
        """Where it delivers, redacted: scheme+host, or the SMTP host."""
        for key in ("url", "api_url"):
            value = self.settings.get(key)
            if isinstance(value, Secret):
                return redact_url(value.get())
        if self.kind == "email":
            return f"smtp://{self.settings.get('smarthost', '')}"
        return self.kind


@dataclass(frozen=True)
class ForwardTarget:
    url: str
    resend_delay_ns: int = 60 * 10**9
    timeout_s: float = 10.0


@dataclass(frozen=True)
class NotifyPolicy:
    max_attempts: int = 4
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    timeout_s: float = 10.0


@dataclass(frozen=True)
class AlertingConfig:
    route: Route
    receivers: Mapping[str, tuple[IntegrationConfig, ...]]
    inhibit_rules: tuple[InhibitRule, ...] = ()
    forward: tuple[ForwardTarget, ...] = ()
    notify: NotifyPolicy = NotifyPolicy()
    external_url: str = "http://127.0.0.1:4320"
    globals: Mapping[str, Any] = field(default_factory=dict)

    def integrations(self) -> dict[str, tuple[Integration, ...]]:
        return {name: tuple(i.ref() for i in items) for name, items in self.receivers.items()}

    def integration(self, integration_id: str) -> IntegrationConfig | None:
        for items in self.receivers.values():
            for item in items:
                if item.id == integration_id:
                    return item
        return None
