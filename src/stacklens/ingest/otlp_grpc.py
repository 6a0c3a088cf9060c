"""OTLP/gRPC: ``TraceService``, ``LogsService`` and ``MetricsService`` ``Export``, on their
own port (``otlp_grpc_port``, default 4317) in the hub process, on the hub's event loop.

The adapter of OTLP/gRPC, through the same ingest service as every protocol: the call's
metadata is admitted like HTTP headers (``x-api-key`` or ``authorization: Bearer``,
``x-stack-name``; the same authenticator, roles and stack binding), the request bytes go
to the same decoders as OTLP/HTTP protobuf (in a worker process when there is a pool),
the same pipeline and spools. The handlers take the raw request bytes (no generated
servicer): a body that does not parse is then the decoder's ``INVALID_ARGUMENT`` with
its reason, never a framework ``INTERNAL``.

Answers follow the OTLP/gRPC spec: ``Export*ServiceResponse`` with ``partial_success``
when items were rejected; every item rejected, an unreadable body or a per-request
bound is ``INVALID_ARGUMENT`` (not retryable); ``UNAUTHENTICATED``;
``PERMISSION_DENIED``; a full spool backlog is ``RESOURCE_EXHAUSTED`` with a
``google.rpc.RetryInfo`` (retryable only with it, says the spec); a spool that could
not store the batch is ``UNAVAILABLE`` (retryable). The ``RetryInfo`` is sent in the
status details (``grpc-status-details-bin``, what Go and Java exporters read) and as
``google.rpc.retryinfo-bin`` (what the Python exporter reads). A message larger than
``max_body_bytes`` is refused by gRPC itself (``RESOURCE_EXHAUSTED`` without
``RetryInfo``: not retried).
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, Final, Literal, NamedTuple

import grpc
import structlog
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo  # type: ignore[import-untyped]
from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]

from stacklens.ingest import otlp
from stacklens.ingest.batch import Decoder, IngestError, NotStoredError
from stacklens.ingest.otlp.content import PROTOBUF
from stacklens.ingest.otlp_http import (
    decode_logs,
    decode_metrics,
    decode_traces,
    summarize_rejections,
)
from stacklens.ingest.service import IngestService, Outcome

__all__ = ["SERVICES", "GrpcRefusal", "OtlpGrpcServer", "export", "listen_problem", "refusal"]

log = structlog.get_logger(__name__)

Kind = Literal["traces", "logs", "metrics"]

#: The fully qualified gRPC service of each signal (each has one method, ``Export``).
SERVICES: Final[dict[Kind, str]] = {
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
}
_DECODERS: Final[dict[Kind, Decoder]] = {
    "traces": decode_traces,
    "logs": decode_logs,
    "metrics": decode_metrics,
}
#: The metadata the ingest service reads, as HTTP headers; nothing else is passed on.
_ADMITTED_KEYS: Final = ("x-api-key", "authorization", "x-stack-name")
_CODES: Final = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    413: grpc.StatusCode.INVALID_ARGUMENT,  # past a per-request bound: split, don't retry
    415: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.RESOURCE_EXHAUSTED,  # spool backlog over its bound
}
#: How long a client is asked to wait before retrying under backpressure.
RETRY_DELAY_S: Final = 1


class GrpcRefusal(NamedTuple):
    """A refused call: its status, message and trailing metadata."""

    code: grpc.StatusCode
    message: str
    trailing: tuple[tuple[str, bytes], ...]
    #: The HTTP status it corresponds to (the hub's ``requests`` instrument label).
    http_status: int


def refusal(error: IngestError) -> GrpcRefusal:
    """An :class:`IngestError` as the gRPC status the OTLP spec asks for."""
    if isinstance(error, NotStoredError):
        code, message = grpc.StatusCode.UNAVAILABLE, f"not stored, retry: {error.detail}"
    else:
        code, message = _CODES.get(error.status, grpc.StatusCode.INVALID_ARGUMENT), error.message
    status = Status(code=code.value[0], message=message)
    trailing: list[tuple[str, bytes]] = []
    if code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
        retry = RetryInfo(retry_delay=Duration(seconds=RETRY_DELAY_S))
        detail = AnyMessage()
        detail.Pack(retry)
        status.details.append(detail)
        trailing.append(("google.rpc.retryinfo-bin", retry.SerializeToString()))
    trailing.insert(0, ("grpc-status-details-bin", status.SerializeToString()))
    return GrpcRefusal(code, message, tuple(trailing), error.status)


def _headers(metadata: Iterable[tuple[str, str | bytes]]) -> dict[str, str]:
    headers = {"content-type": PROTOBUF}
    for key, value in metadata:
        name = key.lower()
        if name in _ADMITTED_KEYS and isinstance(value, str):
            headers[name] = value
    return headers


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _answer(kind: Kind, outcome: Outcome) -> bytes:
    rejected = outcome.rejected
    if outcome.accepted == 0 and rejected:
        # As OTLP/HTTP answers it (400): nothing was stored, and a retry would not help.
        message = f"every item was rejected: {summarize_rejections(rejected)}"
        raise IngestError(400, message)
    return otlp.export_response(kind, len(rejected), summarize_rejections(rejected), PROTOBUF)


async def export(
    service: IngestService, kind: Kind, body: bytes, metadata: Iterable[tuple[str, str | bytes]]
) -> bytes:
    """One ``Export`` call: the serialized response, or raise :class:`IngestError`."""
    admitted = await service.admit(_headers(metadata), _once(body), undo_encoding=False)
    outcome = await service.ingest(admitted, _DECODERS[kind], protocol=f"otlp_grpc_{kind}")
    return _answer(kind, outcome)


def listen_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (``None``: it can), checked before the
    hub starts so that a taken port is one clear line, not a traceback from the app's
    start-up. (A port taken between this check and the bind still fails the start.)"""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot resolve {host!r}: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As a listener binds: a TIME_WAIT left by the last run is no conflict.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


class OtlpGrpcServer:
    """The gRPC server, started and stopped on the hub's event loop (the app lifespan)."""

    def __init__(
        self, service: IngestService, host: str, port: int, *, max_message_bytes: int
    ) -> None:
        self.service = service
        self.host = host
        self.port = port
        self.max_message_bytes = max_message_bytes
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _handler(self, kind: Kind) -> Any:
        service = self.service
        instruments = service.instruments
        protocol = f"otlp_grpc_{kind}"

        async def handle(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
            started = time.perf_counter()
            try:
                answer = await export(service, kind, request, context.invocation_metadata() or ())
            except IngestError as error:
                refused = refusal(error)
                instruments.requests.labels(
                    protocol=protocol, status=str(refused.http_status)
                ).inc()
                await context.abort(refused.code, refused.message, refused.trailing)
            instruments.requests.labels(protocol=protocol, status="200").inc()
            instruments.ack_seconds.labels(protocol=protocol).observe(time.perf_counter() - started)
            return answer

        # No (de)serializers: the handler gets and returns bytes.
        return grpc.unary_unary_rpc_method_handler(handle)

    async def start(self) -> None:
        """Listen on ``host:port`` (raises ``RuntimeError`` if the port cannot be bound)."""
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self.max_message_bytes),
                # grpc-core sets SO_REUSEPORT by default: a second process (another hub,
                # a Collector) on the same port would then silently share the traffic.
                ("grpc.so_reuseport", 0),
            ]
        )
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(name, {"Export": self._handler(kind)})
                for kind, name in SERVICES.items()
            ]
        )
        server.add_insecure_port(self.address)
        await server.start()
        self._server = server
        log.info("otlp_grpc_listening", address=self.address)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Finish the calls in flight (up to ``grace_s``), refuse new ones."""
        if self._server is not None:
            await self._server.stop(grace_s)
            self._server = None
