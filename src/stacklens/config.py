"""Hub configuration: defaults, overridden by ``STACKLENS_*`` environment variables,
overridden by command-line options. The README's configuration table mirrors this."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec

__all__ = ["ENV_PREFIX", "HubConfig", "load_config"]

ENV_PREFIX = "STACKLENS_"


class HubConfig(msgspec.Struct, frozen=True, kw_only=True):
    #: Where the spool, the DuckDB file, the metadata database and the secret live.
    data_dir: Path = Path("./stacklens-data")
    host: str = "127.0.0.1"
    port: int = 4320
    #: OTLP/gRPC port (traces, logs, metrics), on ``host`` in the same process; 0 turns
    #: it off. 4317 is the port OTel SDKs and Collectors send gRPC to by default.
    otlp_grpc_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 4317
    #: Public URL printed for stacks (``stacks create --print-env``).
    public_url: str | None = None
    #: Largest request body accepted (also the largest after decompression).
    max_body_bytes: int = 10 * 1024 * 1024
    #: Most spans / log records / metric points / Loki entries / native events in one
    #: request (413 past it): bounds the CPU one request costs, not just its bytes.
    max_items_per_request: int = 20_000
    #: Most attributes on one item (Loki: labels + structured metadata); 400 past it.
    max_attributes_per_item: int = 1_024
    #: Deepest nesting of one OTLP attribute value or log body (kvlist/array); 400 past it.
    max_attribute_depth: int = 16
    #: Past this many bytes acknowledged but not loaded, ingest answers 503.
    max_backlog_bytes: int = 512 * 1024 * 1024
    #: How often the loader moves the spool into the store.
    loader_interval_s: float = 0.2
    #: DuckDB's memory cap (unbounded it grew to ~1 GB RSS under load). With 10 M events
    #: under load the hub peaked at 427 MB at 192 MB and at 395 MB at 160 MB (2026-12-02;
    #: the hub had grown since 192 MB gave 382): 160 keeps it under 400 MB
    #: (bench/RESULTS.md, "Memory").
    duckdb_memory_limit: str = "160MB"
    duckdb_threads: int = 2
    #: WAL size that triggers a DuckDB checkpoint (larger: cheaper loads, longer replay).
    duckdb_checkpoint_threshold: str = "256MB"
    #: The event store: ``duckdb:///path`` (default: ``events.duckdb`` in the data
    #: dir), ``clickhouse://user:password@host:8123/database`` (a ClickHouse server
    #: over HTTP) or ``chdb:///path`` (ClickHouse embedded; the clickhouse extra).
    store_url: str | None = None
    #: SQLAlchemy URL of the metadata database; default: SQLite in the data dir.
    metadata_url: str | None = None
    #: A retried event_id is recognised as a duplicate when its first copy was received
    #: at most this long before (clients retry within seconds to minutes). The lookup
    #: scans the ids received in this window, so keep it short at high ingest rates.
    dedup_window_s: float = 3600.0
    #: Serve /metrics without a key (trusted networks only: it names every stack and its
    #: spend). By default Prometheus authenticates with a read key as a bearer token.
    metrics_public: bool = False
    #: Worker processes for the CPU half of native ingest (parse, normalize, privacy);
    #: 0 runs it in the hub process. See bench/RESULTS.md for the trade-off.
    ingest_workers: int = 0
    #: fsync the spool before acknowledging. Only benchmarks turn this off.
    fsync: bool = True
    #: Loader lag above which /health reports the loader unhealthy.
    max_loader_lag_s: float = 30.0
    #: YAML file of per-deployment LLM price overrides (``prices:``).
    prices_file: Path | None = None
    #: Alert rules (Prometheus rule-file shape), merged over the default seed rules.
    alert_rules_file: Path | None = None
    #: Alertmanager-like routing: route tree, receivers, inhibit rules.
    alerting_config_file: Path | None = None
    #: Ship the seed rules (stack down, error rate, latency, cost, cache, GPU, ...).
    alert_default_rules: bool = True
    #: How often registered stack health URLs are probed.
    alert_probe_interval_s: float = 30.0
    #: External Alertmanager(s) (comma-separated base URLs) every firing and resolved
    #: alert is also forwarded to (``POST /api/v2/alerts``), beside the alerting
    #: config's ``alertmanagers:``.
    alertmanager_url: str | None = None
    alerting_enabled: bool = True
    #: How long each retention tier keeps data (see :mod:`stacklens.retention.tiers`).
    retention_events: str = "7d"
    retention_rollups: str = "90d"
    retention_sessions: str = "365d"
    retention_billing: str = "7y"
    #: How often the retention job looks for expired partitions.
    retention_interval_s: float = 300.0
    #: YAML/JSON file of per-stack privacy policies.
    privacy_file: Path | None = None
    #: Key for keyed hashes (content, user ids); default: generated into the data dir.
    secret_key: str | None = None
    #: Adopted as the first admin key at first start (automation).
    bootstrap_admin_key: str | None = None

    def __post_init__(self) -> None:
        if self.otlp_grpc_port and self.otlp_grpc_port == self.port:
            raise ValueError(
                f"otlp_grpc_port {self.otlp_grpc_port} is also the HTTP port: pick another "
                "(STACKLENS_OTLP_GRPC_PORT; 0 turns OTLP/gRPC off)"
            )

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


_FIELDS = {f.name: f for f in msgspec.structs.fields(HubConfig)}


def load_config(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> HubConfig:
    """Defaults ← environment ← ``overrides`` (``None`` values in overrides are ignored)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in _FIELDS:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = raw
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    try:
        return msgspec.convert(values, HubConfig, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid configuration: {exc}") from None


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Path:
        return Path(value)
    raise NotImplementedError
