"""The composition root: every part of a hub is built here, once, and handed to the
routes through their :class:`~stacklens.api.parts.Part` slots.

``Hub`` builds the parts and owns their life cycle; ``create_app`` puts HTTP in front
of it. Nothing else in the package imports this module (the CLI's ``serve`` does, lazily),
so no import cycle can run through it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from stacklens import __version__
from stacklens.alerting.silences import SilenceStore
from stacklens.alerting.statestore import AlertStateStore
from stacklens.alerting.wiring import create_alert_engine
from stacklens.analytics.analytics_service import Analytics
from stacklens.analytics.budgets import BudgetStore
from stacklens.analytics.collector import StackMetricsCollector
from stacklens.analytics.metric_minutes import MinutesCompaction, backfill_metric_minutes
from stacklens.analytics.pricing import Pricer, load_price_overrides
from stacklens.analytics.rollups import ddl_statements, load_statements
from stacklens.api import alerts as alerts_api
from stacklens.api import analytics as analytics_api
from stacklens.api import backup as backup_api
from stacklens.api import costs as costs_api
from stacklens.api import events as events_api
from stacklens.api import health as health_api
from stacklens.api import loki_query as loki_query_api
from stacklens.api import metric_points as metric_points_api
from stacklens.api import prometheus as prometheus_api
from stacklens.api import quarantine as quarantine_api
from stacklens.api import retention as retention_api
from stacklens.api.alerts import ALERT_STORES, ALERTING, AlertStores
from stacklens.api.analytics_params import ANALYTICS, BUDGETS, PRICER
from stacklens.api.auth import KEYS, authenticate
from stacklens.api.backup import BACKUP
from stacklens.api.costs import PSEUDONYMS
from stacklens.api.health import HEALTH
from stacklens.api.parts import CLOCK, STORE
from stacklens.api.quarantine import QUARANTINES, QuarantineDesk
from stacklens.api.retention import ERASER, RETENTION
from stacklens.config import HubConfig
from stacklens.event_schema import json_schema
from stacklens.ids import Clock, IdFactory, new_ulid, system_clock_ns
from stacklens.ingest import (
    langfuse_http,
    langsmith_http,
    loki_http,
    native_http,
    otlp_http,
    remote_write_http,
    zipkin_http,
)
from stacklens.ingest.instruments import HubMetrics
from stacklens.ingest.limits import request_limits
from stacklens.ingest.loader import Loader
from stacklens.ingest.otlp_grpc import OtlpGrpcServer
from stacklens.ingest.pipeline import IngestPipeline
from stacklens.ingest.quarantine import Quarantine, quarantine_counter
from stacklens.ingest.service import INGEST, IngestService
from stacklens.ingest.spool import Spool
from stacklens.ingest.workers import PipelinePool, PipelineSpec
from stacklens.metadata import KeyRing, MetadataDB, StackRegistry
from stacklens.operations.backup import BackupSource
from stacklens.privacy import PrivacyPolicy, Redactor
from stacklens.retention.audit import ErasureAudit
from stacklens.retention.collector import RetentionCollector
from stacklens.retention.erasure import UserEraser
from stacklens.retention.guard import OutsideRetentionError, door_limits, raw_horizon
from stacklens.retention.job import RetentionJob
from stacklens.retention.policy_file import (
    load_retention_policy,
    read_policy_document,
    split_policy_document,
)
from stacklens.retention.status import RetentionView
from stacklens.store.base import Store
from stacklens.store.dialect import Dialect
from stacklens.store.urls import StoreOptions, open_store
from stacklens.web.install import install_console

__all__ = ["Hub", "create_app", "load_privacy_policies", "load_secret_key"]


def load_secret_key(data_dir: Path, configured: str | None) -> bytes:
    """The deployment's hashing key: configured, or generated once into the data dir
    (mode 0600) so hashes stay stable across restarts."""
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def load_privacy_policies(path: Path | None) -> tuple[PrivacyPolicy, dict[str, PrivacyPolicy]]:
    """``{default: {content: hash}, stacks: {name: {content: store}}}`` from YAML/JSON
    (each entry's ``retention`` key is the retention policy's, left out here)."""
    if path is None:
        return PrivacyPolicy(), {}
    document, _ = split_policy_document(read_policy_document(path))
    default = msgspec.convert(document.get("default") or {}, PrivacyPolicy)
    stacks = {
        name: msgspec.convert(value or {}, PrivacyPolicy)
        for name, value in (document.get("stacks") or {}).items()
    }
    return default, stacks


def _rollups(d: Dialect) -> tuple[list[str], dict[str, list[str]]]:
    return ddl_statements(d), {"events": load_statements(d)}


class Hub:
    """Every part of a running hub, started and stopped together."""

    def __init__(
        self,
        config: HubConfig,
        *,
        clock: Clock = system_clock_ns,
        new_id: IdFactory = new_ulid,
        registry: CollectorRegistry | None = None,
        store: Store | None = None,
    ) -> None:
        """``store``: an event store already opened (a test's, wrapped to fail on cue);
        ``None`` opens the one ``config.store_url`` names."""
        self.config = config
        self.clock = clock
        # First: a retention setting that cannot be used stops the hub before it
        # opens anything (RetentionError names the setting).
        self.retention_policy = load_retention_policy(config)
        data_dir = config.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        # Migrated to the newest schema as it opens (MetadataUnavailableError names a
        # URL that cannot be used).
        self.metadata = MetadataDB.open(config.metadata_url, data_dir)
        self.keyring = KeyRing(self.metadata, clock=clock, new_id=new_id)
        self.stacks = StackRegistry(self.metadata, clock=clock)
        # STACKLENS_STORE_URL: DuckDB in the data dir by default, or ClickHouse
        # (StoreUnavailableError: one line naming the URL, password masked).
        raw_days = -(-self.retention_policy.longest("events") // (86400 * 10**9)) + 1
        self.store: Store = store or open_store(
            config.store_url,
            StoreOptions(
                data_dir=data_dir,
                duckdb_memory_limit=config.duckdb_memory_limit,
                duckdb_threads=config.duckdb_threads,
                duckdb_checkpoint_threshold=config.duckdb_checkpoint_threshold,
                dedup_window_ns=int(config.dedup_window_s * 1e9),
                # A backstop behind the retention job's day drops, a day later.
                ttl_days={"events": raw_days, "metric_points": raw_days},
            ),
            _rollups,
        )
        # Before any loader runs: the raw events stored before metric_minutes existed.
        backfill_metric_minutes(self.store)
        self.spool = Spool(
            data_dir / "spool" / "events",
            max_backlog_bytes=config.max_backlog_bytes,
            fsync=config.fsync,
            clock=clock,
        )
        self.registry = registry if registry is not None else CollectorRegistry()
        quarantined = quarantine_counter(self.registry)
        self.quarantines = {
            stream: Quarantine(data_dir / "quarantine", stream, clock=clock)
            for stream in ("events", "metrics")
        }
        self.loader = Loader(
            self.spool,
            self.store,
            interval_s=config.loader_interval_s,
            clock=clock,
            quarantine=self.quarantines["events"],
            on_quarantine=quarantined.labels(stream="events").inc,
        )
        # OTel metric points: their own stream and table, the same durability.
        self.metrics_spool = Spool(
            data_dir / "spool" / "metrics",
            max_backlog_bytes=config.max_backlog_bytes,
            fsync=config.fsync,
            clock=clock,
        )
        self.metrics_loader = Loader(
            self.metrics_spool,
            self.store,
            stream="metrics",
            interval_s=config.loader_interval_s,
            clock=clock,
            quarantine=self.quarantines["metrics"],
            on_quarantine=quarantined.labels(stream="metrics").inc,
        )
        self.metrics = HubMetrics(self.registry)
        self.alerts = (
            create_alert_engine(
                store=self.store,
                metadata=self.metadata,
                registry=self.registry,
                clock=clock,
                rules_file=config.alert_rules_file,
                config_file=config.alerting_config_file,
                default_rules=config.alert_default_rules,
                probe_interval_s=config.alert_probe_interval_s,
                alertmanager_url=config.alertmanager_url,
            )
            if config.alerting_enabled
            else None
        )
        self.alert_stores = (
            AlertStores(self.alerts.states, self.alerts.silences)
            if self.alerts is not None
            else AlertStores(
                AlertStateStore(self.metadata), SilenceStore(self.metadata, clock=clock)
            )
        )
        default_policy, policies = load_privacy_policies(config.privacy_file)
        self.secret_key = secret_key = load_secret_key(data_dir, config.secret_key)
        self.redactor = Redactor(
            secret_key,
            default_policy=default_policy,
            policies=policies,
            on_redaction=self.metrics.count_redaction,
        )
        self.pricer = Pricer(load_price_overrides(config.prices_file))
        # An event older than its stack's events retention is refused at the door: its
        # day may already be dropped, and it would be dropped again at the next run.
        door = door_limits(self.retention_policy)
        self.pipeline = IngestPipeline(
            self.redactor, limits=door, clock=clock, new_id=new_id, pricer=self.pricer
        )
        self.pipeline_pool = (
            PipelinePool(
                PipelineSpec(secret_key, default_policy, policies, config.prices_file, door),
                config.ingest_workers,
            )
            if config.ingest_workers > 0
            else None
        )
        self.ingest = IngestService(
            keys=self.keyring,
            stacks=self.stacks,
            pipeline=self.pipeline,
            events=self.spool,
            points=self.metrics_spool,
            instruments=self.metrics,
            limits=request_limits(config),
            max_body_bytes=config.max_body_bytes,
            pool=self.pipeline_pool,
            clock=clock,
        )
        # Started and stopped with the app (create_app's lifespan), on its event loop.
        self.otlp_grpc = (
            OtlpGrpcServer(
                self.ingest,
                config.host,
                config.otlp_grpc_port,
                max_message_bytes=config.max_body_bytes,
            )
            if config.otlp_grpc_port
            else None
        )
        self.analytics = Analytics(
            self.store, clock=clock, raw_horizon=raw_horizon(self.retention_policy)
        )
        self.retention = RetentionJob(
            self.store,
            self.retention_policy,
            clock=clock,
            interval_s=config.retention_interval_s,
            pending_since={
                "events": self.spool.pending_since_ns,
                "metrics": self.metrics_spool.pending_since_ns,
            },
        )
        self.minutes_compaction = MinutesCompaction(self.store)
        self.budgets = BudgetStore(self.metadata.engine, clock=clock)
        self.eraser = UserEraser(
            self.store,
            ErasureAudit(self.metadata.engine),
            flush=self.flush,
            pseudonymize=self.redactor.pseudonymize_user,
            clock=clock,
            new_id=new_id,
        )
        self.retention_status = RetentionView(
            self.store, self.retention_policy, clock=clock, interval_s=config.retention_interval_s
        )
        self.registry.register(RetentionCollector(self.retention_status.status))
        self.stack_metrics = StackMetricsCollector(self.store, clock)
        self.registry.register(self.stack_metrics)
        self.started = False

    @property
    def alerting_role(self) -> dict[str, str] | None:
        """This replica's part in alerting (``/health``); ``None`` with alerting off."""
        return self.alerts.role if self.alerts is not None else None

    def bootstrap_admin(self) -> str | None:
        """At first start create the admin key; return it when it was generated here."""
        if self.keyring.has_admin():
            return None
        given = self.config.bootstrap_admin_key
        if given:  # replicas starting together may all adopt it: one of them inserts it
            self.keyring.adopt("admin", given, label="bootstrap")
            return None
        _, key = self.keyring.create("admin", label="bootstrap")
        return key

    def start(self) -> None:
        if self.pipeline_pool is not None:
            self.pipeline_pool.warm_up()
        self.spool.open()
        self.metrics_spool.open()
        self.loader.start()
        self.metrics_loader.start()
        if self.alerts is not None:
            self.alerts.start()
        self.retention.start()
        self.minutes_compaction.start()
        self.metrics.watch(
            backlog_bytes=self.spool.backlog_bytes,
            loader_lag_s=self.loader.lag_s,
            rows_loaded=lambda: self.loader.rows_loaded,
        )
        self.started = True

    def stop(self) -> None:
        """Drain: the spool writer finishes, the loader loads what is left."""
        self.started = False
        self.retention.stop()
        self.minutes_compaction.stop()
        if self.alerts is not None:
            self.alerts.stop()
        self.spool.close()
        self.metrics_spool.close()
        self.loader.stop()
        self.metrics_loader.stop()
        if self.pipeline_pool is not None:
            self.pipeline_pool.close()
        self.store.close()
        self.metadata.close()

    def flush(self) -> None:
        """Make everything acknowledged so far queryable now (tests, CLI)."""
        self.loader.run_once()
        self.metrics_loader.run_once()


def create_app(hub: Hub) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub.start()
        try:
            if hub.otlp_grpc is not None:
                await hub.otlp_grpc.start()
            try:
                yield
            finally:
                # gRPC calls in flight finish before the spools close under them.
                if hub.otlp_grpc is not None:
                    await hub.otlp_grpc.stop()
        finally:
            hub.stop()

    # Swagger UI and ReDoc assets come from the installed fastapi-offline package, served by
    # the hub itself: /docs works on a machine with no internet, as the console does.
    app = FastAPIOffline(
        title="stacklens",
        version=__version__,
        summary="The observability hub for fleets of AI stacks.",
        lifespan=lifespan,
    )
    app.state.hub = hub  # for tests and the CLI; routes get their parts from slots
    _provide_parts(app, hub)
    app.include_router(native_http.router)
    app.include_router(otlp_http.router)
    app.include_router(loki_http.router)
    app.include_router(remote_write_http.router)
    app.include_router(zipkin_http.router)
    app.include_router(langfuse_http.router)
    app.include_router(langsmith_http.router)
    app.include_router(events_api.router)
    app.include_router(metric_points_api.router)
    app.include_router(prometheus_api.router)
    app.include_router(analytics_api.router)
    app.include_router(costs_api.router)
    app.include_router(alerts_api.router)
    app.include_router(health_api.router)
    app.include_router(loki_query_api.router)
    app.include_router(backup_api.router)
    app.include_router(quarantine_api.router)
    app.include_router(retention_api.router)

    @app.get("/metrics", tags=["metrics"])
    async def metrics(request: Request) -> Response:
        """Prometheus exposition: every stack's series and the hub's own health. Needs
        a read or admin key not bound to a stack (a bound key would see other stacks),
        unless ``metrics_public`` is set."""
        if not hub.config.metrics_public:
            principal = authenticate(hub.keyring, request.headers)
            if not principal.can_read() or principal.stack is not None:
                raise StarletteHTTPException(403, "/metrics needs a read key for all stacks")
        body = await run_in_threadpool(generate_latest, hub.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(sa.exc.OperationalError)
    @app.exception_handler(sa.exc.InterfaceError)
    async def metadata_unavailable(_: Request, exc: Exception) -> JSONResponse:
        # The metadata database is the only SQLAlchemy engine: it went away (PostgreSQL
        # restarting, a failover). Not the caller's fault and not a bug: retry later.
        del exc  # its text may hold the server's address; /health names the part
        return JSONResponse(
            {"error": "the metadata database is unavailable; retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(OutsideRetentionError)
    async def outside_retention(_: Request, exc: OutsideRetentionError) -> JSONResponse:
        # A raw-backed figure over expired raw days: the caller's window, not a fault.
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
            for err in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "problems": problems}, status_code=400)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            event_schema = json_schema()
            components = document.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in event_schema.get("$defs", {}).items():
                components[name if name != "Event" else "NativeEvent"] = _rewrite_refs(definition)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    install_console(app, hub, secret_key=hub.secret_key)
    return app


def _provide_parts(app: FastAPI, hub: Hub) -> None:
    """Fill every route's slots with the hub's parts."""
    INGEST.provide(app, hub.ingest)
    CLOCK.provide(app, hub.clock)
    STORE.provide(app, hub.store)
    KEYS.provide(app, hub.keyring)
    HEALTH.provide(app, hub)
    ANALYTICS.provide(app, hub.analytics)
    PRICER.provide(app, hub.pricer)
    BUDGETS.provide(app, hub.budgets)
    PSEUDONYMS.provide(app, hub.redactor.pseudonymize_user)
    ALERT_STORES.provide(app, hub.alert_stores)
    ERASER.provide(app, hub.eraser)
    RETENTION.provide(app, hub.retention_status)
    if hub.alerts is not None:
        ALERTING.provide(app, hub.alerts)
    BACKUP.provide(app, BackupSource(hub.config.data_dir, hub.store, hub.metadata, hub.flush))
    QUARANTINES.provide(
        app,
        QuarantineDesk(hub.quarantines, {"events": hub.loader, "metrics": hub.metrics_loader}),
    )


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                v.replace("#/$defs/Event", "#/components/schemas/NativeEvent").replace(
                    "#/$defs/", "#/components/schemas/"
                )
                if k == "$ref" and isinstance(v, str)
                else _rewrite_refs(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node
