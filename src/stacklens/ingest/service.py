"""The ingest service: one path for every protocol, from admission to acknowledgement.

A protocol adapter (``native_http``, ``otlp_http``, ``loki_http``) is an
:class:`Adapter`: a name, a :data:`~stacklens.ingest.batch.Decoder` (request → batch),
and how to render an :class:`Outcome` or an :class:`IngestError` in its protocol's
shape. Its route is one line, ``await service.serve(request, ADAPTER)``. Adding a
protocol is one such module and its tests.

The service owns what every protocol does the same way:

* **admission** (:meth:`IngestService.admit`): the API key (through the narrow
  :class:`~stacklens.api.auth.KeyAuthenticator`), the write role, the stack header and the key's
  binding, spool capacity (the events spool, for every protocol, as before), the body
  read within ``max_body_bytes`` and its Content-Encoding undone (unless the protocol
  undoes it itself: Loki words those errors its own way).
* **prepare**: the decoder and :meth:`IngestPipeline.prepare_batch`. With a
  :class:`PipelinePool` both run in a worker process (for every protocol: the request
  goes over as picklable data and the worker runs the same decoder function); without
  one each runs through :func:`~stacklens.ingest.steps.drive`, inline for a small
  request and in a thread for a large one. A request's size (its body, times the
  adapter's ``size_factor`` for formats that inflate) sends both stages to a thread, and
  so does the item count for the pipeline stage.
* **the sinks**: events to the events spool, OTel metric points to the metrics spool;
  both prepared by the same pipeline, so through the same redactor.
* **the hub's instruments**: ``requests`` (by rendered status), ``events_accepted``,
  ``events_rejected``, ``ack_seconds`` (when the answer is the adapter's ``ok_status``),
  and redaction counts (a worker's come back with its result).
* **stack registration**: stacks first seen in acknowledged events, after the
  acknowledgement is decided (a metadata hiccup is logged and retried, never a 5xx).

:meth:`IngestService.ingest` (an admitted request and its decoder) and
:meth:`IngestService.accept` (an already decoded batch) are HTTP-free and return an
:class:`Outcome` or raise :class:`IngestError`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import structlog
from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from stacklens.api.auth import AuthError, KeyAuthenticator, authenticate
from stacklens.api.parts import Part
from stacklens.ids import Clock, system_clock_ns
from stacklens.ingest.batch import (
    Batch,
    Decoder,
    IngestError,
    IngestRequest,
    NotStoredError,
    refusals,
)
from stacklens.ingest.body import BodyError, decode_content_encoding
from stacklens.ingest.instruments import HubMetrics
from stacklens.ingest.limits import RequestLimits
from stacklens.ingest.pipeline import IngestPipeline, Prepared
from stacklens.ingest.spool import Spool, SpoolClosedError, SpoolFullError
from stacklens.ingest.steps import drive
from stacklens.ingest.workers import PipelinePool
from stacklens.metadata.keys import Principal
from stacklens.schema import STACK_NAME_RE

__all__ = [
    "INGEST",
    "Adapter",
    "Headers",
    "IngestService",
    "Outcome",
    "StackRegistrar",
    "read_body",
]

log = structlog.get_logger(__name__)

Headers = Mapping[str, str]


class StackRegistrar(Protocol):
    """What stack registration needs (``StackRegistry`` is one)."""

    def ensure(self, names: set[str]) -> None: ...


class Outcome(NamedTuple):
    """What became of a request the service took."""

    #: Items stored (durable in the spool).
    accepted: int
    #: ``(index, reason)`` for every item refused, sorted.
    rejected: list[tuple[int, str]]


def _no_check(_: Headers) -> None:
    return None


@dataclass(frozen=True)
class Adapter:
    """One protocol: its decoding and its answers."""

    #: The ``protocol`` label of the hub's instruments.
    name: str
    #: Request → batch; a module-level function (it may run in a worker process).
    decode: Decoder
    render: Callable[[Outcome, Headers], Response]
    render_error: Callable[[IngestError, Headers], Response]
    #: The status of a full acknowledgement (``ack_seconds`` is observed for it).
    ok_status: int = 200
    #: Checks made before authentication (a wrong Content-Type is a 415 first).
    check: Callable[[Headers], None] = _no_check
    #: The header that names the request's stack.
    stack_header: str = "x-stack-name"
    #: False when the decoder undoes Content-Encoding itself.
    undo_encoding: bool = True
    #: How much larger than its body the request decodes to (snappy: about 4 times), for the
    #: inline-or-thread choice.
    size_factor: int = 1
    #: The stack the request names, read another way than from ``stack_header`` (Langfuse:
    #: the Basic public key); it may raise IngestError for a malformed one.
    stack_of: Callable[[Headers], str | None] | None = None
    #: Renders with the admitted request at hand, instead of ``render`` (Langfuse answers
    #: each envelope of the body by its id).
    answer: Callable[[Outcome, IngestRequest, Headers], Response] | None = None


async def read_body(stream: AsyncIterable[bytes], declared: str | None, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it passes ``limit`` bytes."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(f"body is larger than {limit} bytes", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise BodyError(f"body is larger than {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


class IngestService:
    """Admission, prepare, the two sinks, the instruments and stack registration."""

    def __init__(
        self,
        *,
        keys: KeyAuthenticator,
        stacks: StackRegistrar,
        pipeline: IngestPipeline,
        events: Spool,
        points: Spool,
        instruments: HubMetrics,
        limits: RequestLimits,
        max_body_bytes: int,
        pool: PipelinePool | None = None,
        clock: Clock = system_clock_ns,
    ) -> None:
        self.keys = keys
        self.stacks = stacks
        #: The hub process's pipeline (used when there is no pool).
        self.pipeline = pipeline
        self.spools: dict[str, Spool] = {"events": events, "metrics": points}
        self.instruments = instruments
        self.limits = limits
        self.max_body_bytes = max_body_bytes
        self.pool = pool
        self._clock = clock
        self._known_stacks: set[str] = set()

    # ------------------------------------------------------------------ HTTP face

    async def serve(self, request: Request, adapter: Adapter) -> Response:
        """A request of ``adapter``'s protocol, answered in its shape."""
        started = time.perf_counter()
        headers = request.headers
        try:
            adapter.check(headers)
            admitted = await self.admit(
                headers,
                request.stream(),
                stack_header=adapter.stack_header,
                undo_encoding=adapter.undo_encoding,
                stack_of=adapter.stack_of,
            )
            outcome = await self.ingest(
                admitted, adapter.decode, protocol=adapter.name, size_factor=adapter.size_factor
            )
            if adapter.answer is not None:
                response = adapter.answer(outcome, admitted, headers)
            else:
                response = adapter.render(outcome, headers)
        except IngestError as error:
            response = adapter.render_error(error, headers)
        status = response.status_code
        self.instruments.requests.labels(protocol=adapter.name, status=str(status)).inc()
        if status == adapter.ok_status:
            self.instruments.ack_seconds.labels(protocol=adapter.name).observe(
                time.perf_counter() - started
            )
        return response

    async def admit(
        self,
        headers: Headers,
        body: AsyncIterable[bytes],
        *,
        stack_header: str = "x-stack-name",
        undo_encoding: bool = True,
        stack_of: Callable[[Headers], str | None] | None = None,
    ) -> IngestRequest:
        """Authenticate, check the stack header, read the body; or raise IngestError."""
        try:
            principal = authenticate(self.keys, headers)
        except AuthError as exc:
            raise IngestError(exc.status_code, str(exc.detail)) from None
        if not principal.can_write():
            raise IngestError(403, f"a {principal.role} key cannot write")
        header_stack = (stack_of(headers) if stack_of else headers.get(stack_header)) or None
        if header_stack is not None and not STACK_NAME_RE.fullmatch(header_stack):
            raise IngestError(400, f"{stack_header} must match [a-z0-9][a-z0-9_.-]{{0,62}}")
        if principal.stack is not None and header_stack not in (None, principal.stack):
            raise IngestError(
                403, f"this key is bound to stack {principal.stack!r}, not {header_stack!r}"
            )
        encoding = headers.get("content-encoding")
        limit = self.max_body_bytes
        try:
            self.spools["events"].check_capacity()
            raw = await read_body(body, headers.get("content-length"), limit)
            if undo_encoding:
                raw = decode_content_encoding(raw, encoding, limit)
        except SpoolFullError as exc:
            raise IngestError(503, str(exc)) from None
        except BodyError as exc:
            raise IngestError(exc.status, str(exc)) from None
        return IngestRequest(
            body=raw,
            content_type=headers.get("content-type"),
            content_encoding=None if undo_encoding else encoding,
            key_stack=principal.stack,
            header_stack=header_stack,
            limits=self.limits,
            max_body_bytes=limit,
            received_ns=self._clock(),
        )

    # ------------------------------------------------------------------ the core

    async def ingest(
        self, request: IngestRequest, decode: Decoder, *, protocol: str, size_factor: int = 1
    ) -> Outcome:
        """Decode and prepare ``request`` (in a worker when there is a pool), then store."""
        size = size_factor * len(request.body)
        if self.pool is not None:
            result = await self.pool.prepare(decode, request)
            self._count_redactions(result.redactions)
            if result.error is not None:
                raise result.error
            assert result.prepared is not None
            prepared = result.prepared
        else:
            with refusals():
                batch = await drive(decode(request), size_bytes=size)
            prepared = await self._prepare(batch, request, size)
        return await self._store(prepared, protocol)

    async def accept(
        self,
        principal: Principal,
        batch: Batch,
        *,
        protocol: str,
        header_stack: str | None = None,
    ) -> Outcome:
        """A decoded batch from ``principal`` through the pipeline into its sink."""
        request = IngestRequest(
            body=b"",
            content_type=None,
            content_encoding=None,
            key_stack=principal.stack,
            header_stack=header_stack,
            limits=self.limits,
            max_body_bytes=self.max_body_bytes,
            received_ns=self._clock(),
        )
        return await self._store(await self._prepare(batch, request, 0), protocol)

    async def _prepare(self, batch: Batch, request: IngestRequest, size: int) -> Prepared:
        with refusals():
            return await drive(
                self.pipeline.prepare_batch(
                    batch,
                    key_stack=request.key_stack,
                    default_stack=request.header_stack,
                    received_ns=request.received_ns,
                ),
                size_bytes=size,
                items=len(batch.items),
            )

    async def _store(self, prepared: Prepared, protocol: str) -> Outcome:
        self.instruments.events_rejected.labels(protocol=protocol).inc(len(prepared.rejected))
        if prepared.rows:
            try:
                await self.spools[prepared.stream].append(prepared.payload, prepared.rows)
            except (SpoolFullError, SpoolClosedError) as exc:
                raise NotStoredError(503, str(exc)) from None
            except OSError as exc:  # disk full or failing: nothing was acknowledged
                raise NotStoredError(
                    503, f"spool write failed: {exc.strerror or exc}", str(exc)
                ) from None
            self.instruments.events_accepted.labels(protocol=protocol).inc(prepared.rows)
            await self.note_stacks(prepared.stacks)
        return Outcome(prepared.rows, prepared.rejected)

    def _count_redactions(self, counts: Mapping[str, int]) -> None:
        for rule, count in counts.items():
            self.instruments.count_redaction(rule, count)

    async def note_stacks(self, names: Iterable[str]) -> None:
        """Register stacks first seen in acknowledged events. Runs after the ack is
        decided, so a metadata hiccup is logged and retried later, never a 5xx."""
        new = set(names) - self._known_stacks
        if not new:
            return
        try:
            await run_in_threadpool(self.stacks.ensure, new)
        except Exception as exc:  # the events are durable; registration retries next time
            log.warning("stack_registration_failed", error=f"{type(exc).__name__}: {exc}")
            return
        self._known_stacks |= new


#: The slot the composition root fills with the hub's :class:`IngestService`.
INGEST: Part[IngestService] = Part("ingest")
