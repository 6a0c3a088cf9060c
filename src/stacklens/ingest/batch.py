"""What a protocol adapter hands the ingest service, and what comes back.

An adapter turns a request into an :class:`IngestRequest` (the admitted body and the
little the decoder needs to know about the request) and names its :data:`Decoder`: a
module-level steps function ``IngestRequest → EventBatch | PointBatch``. The service
runs that decoder and the pipeline either here or in a worker process, so everything in
this module is picklable: the request and the decoder go to a worker (a function
pickles by its qualified name), the prepared rows or an :class:`IngestError` come back.

Two batches, one per sink: :class:`EventBatch` (raw events in the native contract
shape, for the events table) and :class:`PointBatch` (OTel metric points, for the
``metric_points`` table). Both go through the same privacy step in
:class:`stacklens.ingest.pipeline.IngestPipeline`.

Refusals of a whole request are one type, :class:`IngestError` (status + message); each
adapter renders it in its protocol's shape. :func:`refusals` turns the errors the shared
decoding helpers raise (body, limits, a key bound to another stack) into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from stacklens.ingest.body import BodyError
from stacklens.ingest.limits import RequestLimitError, RequestLimits
from stacklens.ingest.steps import Steps

if TYPE_CHECKING:
    from stacklens.ingest.otlp import MetricPoint

__all__ = [
    "Batch",
    "Decoder",
    "EventBatch",
    "ForbiddenStackError",
    "IngestError",
    "IngestRequest",
    "NotStoredError",
    "PointBatch",
    "refusals",
]


class IngestError(Exception):
    """The request is refused whole: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        # Both in ``args``, so the error pickles back from a worker process as it was.
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotStoredError(IngestError):
    """The spool could not take acknowledged-to-be rows (503: nothing was stored, retry).
    ``detail`` is the spool's own reason, for protocols that word the answer themselves."""

    def __init__(self, status: int, message: str, detail: str = "") -> None:
        super().__init__(status, message)
        self.detail = detail or message


class ForbiddenStackError(PermissionError):
    """An item names a stack its key is not bound to (403)."""


class IngestRequest(NamedTuple):
    """An admitted request, as its decoder sees it (picklable: it may go to a worker)."""

    #: The body, Content-Encoding undone unless the protocol undoes it itself.
    body: bytes
    content_type: str | None
    content_encoding: str | None
    #: The stack the API key is bound to (``None``: the key may write to any stack).
    key_stack: str | None
    #: The stack the request names (``X-Stack-Name``, or Loki's ``X-Scope-OrgID``).
    header_stack: str | None
    limits: RequestLimits
    max_body_bytes: int
    #: When the hub received the request (the hub's clock, read before dispatch).
    received_ns: int


class EventBatch(NamedTuple):
    """Raw events for the events sink, at their request positions: ``None`` where the
    decoder refused an item, so every index reported refers to the request."""

    items: list[Any]
    #: ``(index, reason)`` for the items refused while decoding.
    rejected: list[tuple[int, str]]


class PointBatch(NamedTuple):
    """OTel metric points for the metric-points sink."""

    items: list[MetricPoint]
    rejected: list[tuple[int, str]]


Batch: TypeAlias = EventBatch | PointBatch

#: One protocol's decoding: a module-level function (so it pickles), pausing (``yield``)
#: between chunks of items. It raises :class:`IngestError` for a request it refuses
#: whole (or one of the errors :func:`refusals` converts).
Decoder: TypeAlias = Callable[[IngestRequest], Steps[Batch]]


@contextmanager
def refusals() -> Iterator[None]:
    """Raise the shared helpers' whole-request refusals as :class:`IngestError`."""
    try:
        yield
    except (BodyError, RequestLimitError) as exc:
        raise IngestError(exc.status, str(exc)) from None
    except ForbiddenStackError as exc:
        raise IngestError(403, str(exc)) from None
