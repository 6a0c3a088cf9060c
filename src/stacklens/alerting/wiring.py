"""Assemble alerting: evaluator → notify → notification manager (and external
Alertmanagers). :func:`create_alert_engine` is what ``Hub.__init__`` calls;
:func:`build_alerting` is the composition alone (tests, the demo).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from prometheus_client import CollectorRegistry

from stacklens.alerting.alerting_service import AlertingService
from stacklens.alerting.config_file import load_alerting_config
from stacklens.alerting.config_model import AlertingConfig, ForwardTarget
from stacklens.alerting.defaults import effective_rules
from stacklens.alerting.evaluator import Evaluator
from stacklens.alerting.forwarding import AlertmanagerNotify
from stacklens.alerting.health_probe import HealthProber
from stacklens.alerting.instruments import AlertMetrics
from stacklens.alerting.leader_choice import leadership_for
from stacklens.alerting.leadership import Leadership
from stacklens.alerting.manager import NotificationManager
from stacklens.alerting.notify import Notify, fan_out
from stacklens.alerting.rules import RuleSet
from stacklens.ids import Clock, system_clock_ns
from stacklens.metadata.db import MetadataDB
from stacklens.metadata.stacks import StackRegistry
from stacklens.store.base import Reader

__all__ = ["build_alerting", "create_alert_engine", "with_alertmanager_url"]


def build_alerting(
    rules: RuleSet,
    config: AlertingConfig,
    *,
    reader: Reader,
    metadata: MetadataDB,
    clock: Clock = system_clock_ns,
    metrics: AlertMetrics | None = None,
    prober: HealthProber | None = None,
    sleep: Callable[[float], None] = time.sleep,
    leadership: Leadership | None = None,
) -> AlertingService:
    """The evaluator's ``notify`` is the manager's; with ``alertmanagers:`` in the
    config it fans out to those Alertmanagers too (logged in the same notification log).
    ``leadership`` decides whether this replica runs them (default: always)."""
    metrics = metrics if metrics is not None else AlertMetrics()
    manager = NotificationManager(
        config, metadata=metadata, clock=clock, metrics=metrics, sleep=sleep
    )
    forwarders: list[AlertmanagerNotify] = []
    notify: Notify = manager.notify
    if config.forward:
        forwarders.append(
            AlertmanagerNotify(
                config.forward,
                manager.notify_log,
                metrics,
                clock=clock,
                external_url=config.external_url,
                timeout_s=config.notify.timeout_s,
            )
        )
        notify = fan_out(manager.notify, *forwarders)
    evaluator = Evaluator(
        rules,
        reader=reader,
        metadata=metadata,
        notify=notify,
        clock=clock,
        metrics=metrics,
        prober=prober,
    )
    return AlertingService(
        evaluator,
        manager,
        metrics=metrics,
        clock=clock,
        forwarders=forwarders,
        leadership=leadership,
    )


def with_alertmanager_url(config: AlertingConfig, urls: Sequence[str]) -> AlertingConfig:
    """``config`` also forwarding to each of ``urls`` (``STACKLENS_ALERTMANAGER_URL``)
    not already among its ``alertmanagers:``."""
    known = {t.url for t in config.forward}
    extra = [ForwardTarget(u.rstrip("/")) for u in urls if u.strip() and u.rstrip("/") not in known]
    return replace(config, forward=(*config.forward, *extra)) if extra else config


def create_alert_engine(
    *,
    store: Reader,
    metadata: MetadataDB,
    registry: CollectorRegistry,
    clock: Clock,
    rules_file: Path | None = None,
    config_file: Path | None = None,
    default_rules: bool = True,
    probe_interval_s: float = 30.0,
    alertmanager_url: str | None = None,
) -> AlertingService:
    """Rules (defaults + ``rules_file``), routing (``config_file`` or the seed-003
    severity channels), health probes of every stack's registered ``health_url``;
    ``alertmanager_url`` (comma-separated) adds external Alertmanagers to forward to."""
    stacks = StackRegistry(metadata, clock=clock)

    def targets() -> list[tuple[str, str]]:
        return [(s.name, s.health_url) for s in stacks.list() if s.health_url]

    config = load_alerting_config(config_file)
    if alertmanager_url:
        config = with_alertmanager_url(config, alertmanager_url.split(","))
    rules = effective_rules(rules_file, defaults=default_rules)
    return build_alerting(
        rules,
        config,
        reader=store,
        metadata=metadata,
        clock=clock,
        metrics=AlertMetrics(registry),
        prober=HealthProber(targets, clock=clock, interval_s=probe_interval_s),
        leadership=leadership_for(metadata, rules, clock=clock),
    )
