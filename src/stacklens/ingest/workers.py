"""Ingest worker processes: the CPU half of every ingest protocol on other cores.

Profiling the hub under load showed the process holding the GIL 93 % of the time, 86 %
of it parsing bodies and running the pipeline (normalize → price → privacy → row). A
``PipelinePool`` runs exactly that — the protocol's :data:`~stacklens.ingest.batch.Decoder`
and :meth:`IngestPipeline.prepare_batch`, through :func:`prepare_request` — in worker
processes, for native events, OTLP traces, logs and metrics and Loki pushes alike; the
hub process keeps HTTP, admission, the spools (durability stays in one place) and the
loader. Each worker builds its own pipeline from a :class:`PipelineSpec` (keys,
policies, price overrides), so nothing but data crosses the process boundary: the
admitted request and the decoder (a module-level function, pickled by name) in; the
NDJSON payload, the refusals, or the :class:`IngestError`, and the redaction counts out.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from stacklens.ingest.batch import Decoder, IngestError, IngestRequest, refusals
from stacklens.ingest.pipeline import IngestPipeline, Prepared
from stacklens.ingest.steps import Steps, run_steps
from stacklens.privacy import PrivacyPolicy, Redactor
from stacklens.schema import DEFAULT_LIMITS, Limits

__all__ = [
    "PipelinePool",
    "PipelineSpec",
    "WorkerResult",
    "build_pipeline",
    "prepare_request",
]


class PipelineSpec(NamedTuple):
    """Everything a worker needs to build the same pipeline as the hub."""

    secret_key: bytes
    default_policy: PrivacyPolicy
    policies: dict[str, PrivacyPolicy]
    prices_file: Path | None
    #: The event checks, with each stack's events retention as the oldest event it may send.
    limits: Limits = DEFAULT_LIMITS


class WorkerResult(NamedTuple):
    prepared: Prepared | None
    #: Set (and ``prepared`` not) when the request is refused whole.
    error: IngestError | None
    #: Values redacted in the worker, by rule: its counters cannot reach the hub's registry.
    redactions: dict[str, int]


_pipeline: IngestPipeline | None = None
_redactions: Counter[str] = Counter()


def build_pipeline(spec: PipelineSpec, on_redaction: Any = None) -> IngestPipeline:
    from stacklens.analytics.pricing import Pricer, load_price_overrides

    redactor = Redactor(
        spec.secret_key,
        default_policy=spec.default_policy,
        policies=spec.policies,
        on_redaction=on_redaction,
    )
    return IngestPipeline(
        redactor, limits=spec.limits, pricer=Pricer(load_price_overrides(spec.prices_file))
    )


def _initialize(spec: PipelineSpec) -> None:
    global _pipeline
    _pipeline = build_pipeline(spec, on_redaction=lambda rule, n: _redactions.update({rule: n}))


def prepare_request(
    pipeline: IngestPipeline, decode: Decoder, request: IngestRequest
) -> Steps[Prepared]:
    """Decode ``request`` and prepare its batch: what a worker runs. The hub process,
    without a pool, runs the same two steps functions (``decode`` and
    :meth:`IngestPipeline.prepare_batch`), each through ``drive``."""
    with refusals():
        batch = yield from decode(request)
        return (
            yield from pipeline.prepare_batch(
                batch,
                key_stack=request.key_stack,
                default_stack=request.header_stack,
                received_ns=request.received_ns,
            )
        )


def _prepare_in_worker(decode: Decoder, request: IngestRequest) -> WorkerResult:
    assert _pipeline is not None, "worker not initialized"
    _redactions.clear()
    try:
        prepared = run_steps(prepare_request(_pipeline, decode, request))
    except IngestError as exc:
        return WorkerResult(None, exc, dict(_redactions))
    return WorkerResult(prepared, None, dict(_redactions))


def _ready() -> bool:
    return _pipeline is not None


class PipelinePool:
    """``workers`` processes running every protocol's decoding and the pipeline."""

    def __init__(self, spec: PipelineSpec, workers: int) -> None:
        # spawn, not fork: the hub process has threads (spool, loader, alerts).
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_initialize,
            initargs=(spec,),
        )
        self.workers = workers

    def warm_up(self) -> None:
        """Start every worker now rather than on the first request."""
        for future in [self._executor.submit(_ready) for _ in range(self.workers)]:
            future.result(timeout=120)

    async def prepare(self, decode: Decoder, request: IngestRequest) -> WorkerResult:
        """``request`` decoded by ``decode`` and prepared, in a worker process."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _prepare_in_worker, decode, request)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
