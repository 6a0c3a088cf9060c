"""Ingest worker processes: the CPU half of the native ingest path on other cores.

Profiling the hub under load showed the process holding the GIL 93 % of the time, 86 %
of it parsing bodies and running the pipeline (normalize → price → privacy → row). A
``PipelinePool`` runs exactly that — :func:`stacklens.ingest.body.parse_native` and
:meth:`IngestPipeline.prepare` — in worker processes; the hub process keeps HTTP, the
spool (durability stays in one place) and the loader. Each worker builds its own
pipeline from a :class:`PipelineSpec` (keys, policies, price overrides), so nothing
but bytes crosses the process boundary: the request body in, the NDJSON payload,
refusals and redaction counts out.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from stacklens.ingest.body import BodyError, parse_native
from stacklens.ingest.limits import (
    DEFAULT_REQUEST_LIMITS,
    RequestLimitError,
    RequestLimits,
    check_items,
)
from stacklens.ingest.pipeline import ForbiddenStackError, IngestPipeline, Prepared
from stacklens.ingest.steps import Steps, run_steps
from stacklens.privacy import PrivacyPolicy, Redactor

__all__ = [
    "PipelinePool",
    "PipelineSpec",
    "WorkerResult",
    "build_pipeline",
    "native_steps",
    "prepare_native",
]


class PipelineSpec(NamedTuple):
    """Everything a worker needs to build the same pipeline as the hub."""

    secret_key: bytes
    default_policy: PrivacyPolicy
    policies: dict[str, PrivacyPolicy]
    prices_file: Path | None


class WorkerResult(NamedTuple):
    prepared: Prepared | None
    #: ("body", message, status) or ("forbidden", message, 403) when refused whole.
    error: tuple[str, str, int] | None
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
    return IngestPipeline(redactor, pricer=Pricer(load_price_overrides(spec.prices_file)))


def _initialize(spec: PipelineSpec) -> None:
    global _pipeline
    _pipeline = build_pipeline(spec, on_redaction=lambda rule, n: _redactions.update({rule: n}))


def prepare_native(
    pipeline: IngestPipeline,
    body: bytes,
    key_stack: str | None,
    default_stack: str | None,
    limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
) -> WorkerResult:
    """A native body through ``pipeline``: the same work in the hub or in a worker."""
    return run_steps(native_steps(pipeline, body, key_stack, default_stack, limits))


def native_steps(
    pipeline: IngestPipeline,
    body: bytes,
    key_stack: str | None,
    default_stack: str | None,
    limits: RequestLimits,
) -> Steps[WorkerResult]:
    """:func:`prepare_native`, pausing (``yield``) between chunks of events."""
    try:
        parsed = parse_native(body)
        check_items(len(parsed.events), limits, "events")
        prepared = yield from pipeline.prepare_steps(
            parsed.events,
            key_stack=key_stack,
            default_stack=default_stack,
            rejected=parsed.rejected,
        )
    except (BodyError, RequestLimitError) as exc:
        return WorkerResult(None, ("body", str(exc), exc.status), {})
    except ForbiddenStackError as exc:
        return WorkerResult(None, ("forbidden", str(exc), 403), {})
    return WorkerResult(prepared, None, {})


def _prepare_native(
    body: bytes, key_stack: str | None, default_stack: str | None, limits: RequestLimits
) -> WorkerResult:
    assert _pipeline is not None, "worker not initialized"
    _redactions.clear()
    result = prepare_native(_pipeline, body, key_stack, default_stack, limits)
    # A worker's counts cannot reach the hub's registry: they travel with the result.
    return result._replace(redactions=dict(_redactions))


def _ready() -> bool:
    return _pipeline is not None


class PipelinePool:
    """``workers`` processes running the native ingest pipeline."""

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

    async def prepare_native(
        self,
        body: bytes,
        *,
        key_stack: str | None,
        default_stack: str | None,
        limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
    ) -> WorkerResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, _prepare_native, body, key_stack, default_stack, limits
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
