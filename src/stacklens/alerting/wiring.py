"""Build the alert engine of a running hub (what ``Hub.__init__`` calls)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from stacklens.alerting.config_file import load_alerting_config
from stacklens.alerting.defaults import effective_rules
from stacklens.alerting.engine import AlertEngine
from stacklens.alerting.health_probe import HealthProber
from stacklens.alerting.instruments import AlertMetrics
from stacklens.ids import Clock
from stacklens.metadata.db import MetadataDB
from stacklens.metadata.stacks import StackRegistry
from stacklens.store.base import Reader

__all__ = ["create_alert_engine"]


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
) -> AlertEngine:
    """Rules (defaults + ``rules_file``), routing (``config_file`` or the seed-003
    severity channels), health probes of every stack's registered ``health_url``."""
    stacks = StackRegistry(metadata, clock=clock)

    def targets() -> list[tuple[str, str]]:
        return [(s.name, s.health_url) for s in stacks.list() if s.health_url]

    return AlertEngine(
        effective_rules(rules_file, defaults=default_rules),
        load_alerting_config(config_file),
        reader=store,
        metadata=metadata,
        clock=clock,
        metrics=AlertMetrics(registry),
        prober=HealthProber(targets, clock=clock, interval_s=probe_interval_s),
    )
