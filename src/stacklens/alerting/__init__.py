"""Alerting: rules over the hub's data, evaluation, routing, receivers, silences.

Modules: ``rules`` (rule files), ``signals`` (the signal catalog and its SQL),
``state`` (the state machine), ``engine`` (evaluation loop), ``routing``/``dispatch``
(Alertmanager-style routes, groups, inhibition), ``silences``, ``receivers``,
``notifier``/``notify_log`` (retries and the log), ``health_probe``, ``export``
(Prometheus rules, Alertmanager config), ``config`` (the alerting config file).
"""

from stacklens.alerting.config_file import AlertingConfig, load_alerting_config
from stacklens.alerting.engine import AlertEngine
from stacklens.alerting.rules import Rule, RuleGroup, RuleSet, load_rules, parse_rules
from stacklens.alerting.wiring import create_alert_engine

__all__ = [
    "AlertEngine",
    "AlertingConfig",
    "Rule",
    "RuleGroup",
    "RuleSet",
    "create_alert_engine",
    "load_alerting_config",
    "load_rules",
    "parse_rules",
]
