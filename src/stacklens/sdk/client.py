"""``Client``: what a stack calls to record events (seed 000 §3.2, Options A and B).

The caller's thread only appends a small tuple to a bounded ``collections.deque``
(timestamp taken there with ``time.time_ns``); ids, privacy, encoding, metrics and the
network all happen in the sender thread (:mod:`stacklens.sdk.sender`). When the queue
is full the call degrades to a synchronous append to the local spill file (disk, never
the network), so a burst is slowed rather than lost.

Configuration, each overridable by an argument:

=====================  ==============================================================
``STACK_NAME``         the stack events belong to (the key's stack when unset)
``STACKLENS_URL``      the hub, e.g. ``http://stacklens:8080`` (Option A)
``STACKLENS_API_KEY``  an ``ingest`` key
``STACKLENS_EVENTS_FILE``  write JSONL here instead, for ``stacklens send --follow``
``STACKLENS_SPOOL_DIR``    spill directory (default ``~/.cache/stacklens/<stack>/``)
``STACKLENS_HASH_KEY``     hash content client-side with this key (else the hub does)
``STACKLENS_SERVICE``      the ``service`` field of events
=====================  ==============================================================

With neither a URL nor a file the client is disabled (emits are dropped) and says so.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stacklens.schema import STACK_NAME_RE
from stacklens.sdk.catalog import Metrics
from stacklens.sdk.context import LogContext, current_context
from stacklens.sdk.event_builder import EventBuilder, QueuedEvent
from stacklens.sdk.hash_key import hash_key_from_env
from stacklens.sdk.sender import Sender, SenderStats
from stacklens.sdk.spill import FileTransport, SpillStore, default_spool_dir
from stacklens.sdk.trace import otel_ids
from stacklens.sdk.transport import HttpTransport

if TYPE_CHECKING:
    import httpx
    from prometheus_client import CollectorRegistry

__all__ = ["Client", "get_client"]

_log = logging.getLogger("stacklens.sdk")
_context_get = current_context
_modules = sys.modules


class Client:
    def __init__(
        self,
        stack_name: str | None = None,
        url: str | None = None,
        api_key: str | None = None,
        *,
        service: str | None = None,
        events_file: str | Path | None = None,
        spool_dir: str | Path | None = None,
        hash_key: bytes | None = None,
        queue_size: int = 20_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        spill_after_s: float = 5.0,
        max_backoff_s: float = 30.0,
        spool_max_bytes: int = 512 * 1024 * 1024,
        registry: CollectorRegistry | None = None,
        record_metrics: bool = True,
        http_client: httpx.Client | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        close_at_exit: bool = True,
        environ: dict[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        stack = stack_name or env.get("STACK_NAME") or None
        if stack is not None and not STACK_NAME_RE.fullmatch(stack):
            raise ValueError(f"stack name {stack!r} must match {STACK_NAME_RE.pattern}")
        self.stack_name = stack
        self.url = url or env.get("STACKLENS_URL") or None
        file_path = events_file or env.get("STACKLENS_EVENTS_FILE") or None
        key = hash_key or hash_key_from_env(dict(env))
        self._clock = clock_ns
        self._queue: collections.deque[Any] = collections.deque()
        self._limit = queue_size
        self._batch = batch_size
        self._closed = False
        self._lock = threading.Lock()
        self.enabled = bool(self.url or file_path)
        metrics = Metrics(registry, stack_name=stack) if record_metrics else None
        builder = EventBuilder(
            stack_name=stack,
            service=service or env.get("STACKLENS_SERVICE") or None,
            key=key or os.urandom(32),
            hash_content=key is not None,
        )
        api_key = api_key or env.get("STACKLENS_API_KEY")
        directory = Path(spool_dir or env.get("STACKLENS_SPOOL_DIR") or default_spool_dir(stack))
        if not self.enabled:
            self._limit = -1  # every emit takes the (dropping) overflow path
            _log.info("stacklens: no STACKLENS_URL or STACKLENS_EVENTS_FILE; events are dropped")

        def make_sender() -> Sender:
            # Everything a sender owns (thread, files, locks, connections) is made here,
            # so a forked child can make its own (see _after_fork).
            spill: SpillStore | None = None
            transport: HttpTransport | None = None
            file: FileTransport | None = None
            if file_path:
                file = FileTransport(Path(file_path))
            elif self.url:
                spill = SpillStore(directory, max_bytes=spool_max_bytes)
                transport = HttpTransport(self.url, api_key, client=http_client)
            self.spill = spill
            return Sender(
                self._queue,
                builder,
                transport=transport,
                file=file,
                spill=spill,
                metrics=metrics,
                batch_size=batch_size,
                flush_interval_s=flush_interval_s,
                spill_after_s=spill_after_s,
                max_backoff_s=max_backoff_s,
            )

        self._make_sender = make_sender
        self._sender = make_sender()
        if self.enabled:
            self._sender.start()
            self._sender.wake()  # resend what a previous run spilled, now
            ref_fork = weakref.ref(self)

            def _child() -> None:
                client = ref_fork()
                if client is not None:
                    client._after_fork()

            os.register_at_fork(after_in_child=_child)
        if close_at_exit:
            ref = weakref.ref(self)

            def _close_at_exit() -> None:
                client = ref()
                if client is not None:
                    client.close(timeout=2.0)

            self._atexit = _close_at_exit
            atexit.register(_close_at_exit)

    # -- the hot path -------------------------------------------------------------------
    def emit(self, event_type: str, /, **fields: Any) -> None:
        """Queue one event (any contract field or ``data`` key as a keyword); never blocks
        on the network. ``timestamp`` is now; ``event_id`` is made in the sender."""
        ctx = _context_get()
        if "opentelemetry.trace" in _modules:
            ctx = _with_otel(ctx)
        queue = self._queue
        if len(queue) < self._limit:
            queue.append((self._clock(), event_type, ctx, fields))
            if len(queue) == self._batch:
                self._sender.wake()
        else:
            self._overflow((self._clock(), event_type, ctx, fields))

    def _after_fork(self) -> None:
        """In a forked child (pre-forking servers): the parent's thread did not come
        along; start a fresh queue and sender. What the parent had queued is its own."""
        if self._closed:
            return
        self._queue = collections.deque()
        self._lock = threading.Lock()
        self._sender = self._make_sender()
        self._sender.start()

    def _overflow(self, item: QueuedEvent) -> None:
        if not self.enabled:
            return
        event = self._sender.build(item)
        if event is not None:
            self._sender.spill_items([event])

    # -- seed 000 helpers -----------------------------------------------------------------
    def session_start(self, session_id: str, **fields: Any) -> None:
        self.emit("session_start", session_id=session_id, **fields)

    def session_end(
        self, session_id: str, *, duration_ms: float | None = None, **fields: Any
    ) -> None:
        self.emit("session_end", session_id=session_id, duration_ms=duration_ms, **fields)

    def message(
        self, session_id: str | None, role: str, content: str | None = None, **fields: Any
    ) -> None:
        """A prompt or response; ``content`` is hashed (never stored raw) by policy."""
        self.emit("message", session_id=session_id, role=role, content=content, **fields)

    def tool_use(
        self,
        session_id: str | None,
        tool: str,
        *,
        args: Any = None,
        success: bool = True,
        duration_ms: float | None = None,
        **fields: Any,
    ) -> None:
        self.emit(
            "tool_use",
            session_id=session_id,
            tool=tool,
            args=args,
            success=success,
            duration_ms=duration_ms,
            **fields,
        )

    def llm_call(
        self,
        model: str,
        *,
        provider: str | None = None,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
        duration_ms: float | None = None,
        cost_usd: float | None = None,
        success: bool = True,
        session_id: str | None = None,
        **fields: Any,
    ) -> None:
        self.emit(
            "llm_call",
            model=model,
            provider=provider,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            duration_ms=duration_ms,
            cost_usd=cost_usd,
            success=success,
            session_id=session_id,
            **fields,
        )

    def error(
        self,
        message: str,
        *,
        error_code: str | None = None,
        exc: BaseException | None = None,
        session_id: str | None = None,
        **fields: Any,
    ) -> None:
        if exc is not None:
            fields.setdefault("error_type", type(exc).__name__)
            message = f"{message}: {exc}" if message else str(exc)
        self.emit(
            "error",
            message=message,
            level="error",
            error_code=error_code,
            session_id=session_id,
            **fields,
        )

    def heartbeat(self, **fields: Any) -> None:
        self.emit("heartbeat", **fields)

    def feedback(
        self, session_id: str | None, score: float, comment: str | None = None, **fields: Any
    ) -> None:
        self.emit("feedback", session_id=session_id, score=score, comment=comment, **fields)

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def stats(self) -> SenderStats:
        return self._sender.stats

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every event emitted so far reached the hub (``True``); on timeout,
        hub down or key refused, what is in memory goes to the spill and it is ``False``."""
        if not self.enabled or self._closed:
            return not self.enabled
        return self._sender.flush(timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Flush (spilling at once when the hub is down) and stop the sender; later
        emits go straight to the spill file. Called at interpreter exit too."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
        self._limit = -1
        if hasattr(self, "_atexit"):
            atexit.unregister(self._atexit)
        if not self.enabled:
            return True
        return self._sender.close(timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _with_otel(ctx: LogContext) -> LogContext:
    ids = otel_ids()
    return ctx if ids is None else ctx._replace(trace_id=ids[0], span_id=ids[1])


_default: Client | None = None
_default_lock = threading.Lock()


def get_client() -> Client:
    """A process-wide client configured from the environment, made on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default
