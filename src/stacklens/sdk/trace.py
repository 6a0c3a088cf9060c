"""Trace context: W3C ``traceparent`` and the seed 004 ``x-trace-id`` contract.

- **read**: an active OpenTelemetry span wins (the app is already traced), then a valid
  ``traceparent``, then ``x-trace-id``; otherwise a fresh id is **minted**.
- **bind**: the ids go into :mod:`stacklens.sdk.context`, so every log line and event
  of the request carries them.
- **echo**: the ASGI middleware returns ``x-trace-id`` on the response.
- **forward**: :func:`instrument_httpx` adds ``x-trace-id`` and ``traceparent`` to every
  outgoing httpx request made inside the context.

OpenTelemetry is optional and never imported here: if the application has not imported
``opentelemetry.trace`` itself, no span can be active, so looking in ``sys.modules`` is
both free and correct.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar

from stacklens.sdk.context import current_context

if TYPE_CHECKING:
    import httpx

__all__ = [
    "TRACEPARENT_HEADER",
    "TRACE_ID_HEADER",
    "IncomingTrace",
    "TraceParent",
    "async_httpx_trace_hook",
    "clean_trace_id",
    "current_trace_ids",
    "format_traceparent",
    "httpx_trace_hook",
    "instrument_httpx",
    "new_span_id",
    "new_trace_id",
    "otel_ids",
    "outgoing_headers",
    "parse_traceparent",
    "trace_from_headers",
]

TRACE_ID_HEADER: Final = "x-trace-id"
TRACEPARENT_HEADER: Final = "traceparent"

_TRACEPARENT_RE: Final = re.compile(
    r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[\x21-\x7e]*)?"
)
_HEX32: Final = re.compile(r"[0-9a-f]{32}")
_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
#: What an ``x-trace-id`` may look like: a header value is attacker-controlled and ends up
#: in every log line, so it is held to a short, printable, unambiguous alphabet.
_TRACE_ID_SAFE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class TraceParent(NamedTuple):
    trace_id: str
    parent_id: str
    sampled: bool


class IncomingTrace(NamedTuple):
    """The trace of a request being served."""

    trace_id: str
    #: The span of this request (fresh unless an OTel span is active).
    span_id: str
    #: The caller's span, from ``traceparent``.
    parent_span_id: str | None
    #: ``True`` when no usable id came in and one was made here.
    minted: bool


def new_trace_id() -> str:
    """32 lowercase hex (W3C trace-id), never all zeros."""
    value = os.urandom(16).hex()
    return value if value != "0" * 32 else new_trace_id()


def new_span_id() -> str:
    value = os.urandom(8).hex()
    return value if value != "0" * 16 else new_span_id()


def parse_traceparent(value: str | None) -> TraceParent | None:
    """A valid W3C ``traceparent`` → its parts; anything else → ``None``."""
    if not value:
        return None
    match = _TRACEPARENT_RE.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    # Version ff is invalid; version 00 has exactly four fields; later versions may add.
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return TraceParent(trace_id, parent_id, bool(int(flags, 16) & 1))


def format_traceparent(trace_id: str, span_id: str, sampled: bool = True) -> str:
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"


def clean_trace_id(value: str | None) -> str | None:
    """An incoming ``x-trace-id`` made safe to log, or ``None``.

    A UUID becomes 32 hex so it can travel in ``traceparent`` too; other ids are kept as
    sent when short and printable, refused otherwise (a fresh one is minted instead).
    """
    if not value:
        return None
    text = value.strip()
    if _UUID.fullmatch(text):
        return text.replace("-", "").lower()
    if _TRACE_ID_SAFE.fullmatch(text):
        return text
    return None


def otel_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the active OpenTelemetry span, if there is one."""
    module = sys.modules.get("opentelemetry.trace")
    if module is None:
        return None
    try:
        context = module.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return format(context.trace_id, "032x"), format(context.span_id, "016x")
    except Exception:  # a broken tracer must never break logging or requests
        return None


def current_trace_ids() -> tuple[str | None, str | None]:
    """The ids to stamp on a log line or event now: OTel span, else the bound context."""
    ids = otel_ids()
    if ids is not None:
        return ids
    ctx = current_context()
    return ctx.trace_id, ctx.span_id


def _header(headers: Mapping[str, str] | Iterable[tuple[bytes, bytes]], name: str) -> str | None:
    if isinstance(headers, Mapping):
        value = headers.get(name)
        return None if value is None else str(value)
    encoded = name.encode("latin-1")
    for key, raw in headers:  # ASGI: lowercase byte names
        if key.lower() == encoded:
            return raw.decode("latin-1")
    return None


def trace_from_headers(
    headers: Mapping[str, str] | Iterable[tuple[bytes, bytes]],
) -> IncomingTrace:
    """Read (or mint) the trace of an incoming request; see the module docstring."""
    ids = otel_ids()
    if ids is not None:
        parent = parse_traceparent(_header(headers, TRACEPARENT_HEADER))
        return IncomingTrace(ids[0], ids[1], parent.parent_id if parent else None, False)
    parent = parse_traceparent(_header(headers, TRACEPARENT_HEADER))
    if parent is not None:
        return IncomingTrace(parent.trace_id, new_span_id(), parent.parent_id, False)
    trace_id = clean_trace_id(_header(headers, TRACE_ID_HEADER))
    if trace_id is not None:
        return IncomingTrace(trace_id, new_span_id(), None, False)
    return IncomingTrace(new_trace_id(), new_span_id(), None, True)


def outgoing_headers() -> dict[str, str]:
    """Headers that carry the current trace to a downstream call (empty outside one)."""
    trace_id, span_id = current_trace_ids()
    if trace_id is None:
        return {}
    headers = {TRACE_ID_HEADER: trace_id}
    if _HEX32.fullmatch(trace_id):
        headers[TRACEPARENT_HEADER] = format_traceparent(trace_id, span_id or new_span_id())
    return headers


def httpx_trace_hook(request: httpx.Request) -> None:
    """httpx ``request`` event hook: forward the trace unless the caller set headers."""
    for name, value in outgoing_headers().items():
        if name not in request.headers:
            request.headers[name] = value


async def async_httpx_trace_hook(request: httpx.Request) -> None:
    """The same hook for ``httpx.AsyncClient`` (which awaits its hooks)."""
    httpx_trace_hook(request)


_C = TypeVar("_C")


def instrument_httpx(client: _C) -> _C:
    """Add the trace hook to an ``httpx.Client`` or ``httpx.AsyncClient``; returns it."""
    hooks: Any = client.event_hooks  # type: ignore[attr-defined]
    is_async = type(client).__name__ == "AsyncClient"
    hook = async_httpx_trace_hook if is_async else httpx_trace_hook
    request_hooks = list(hooks.get("request", []))
    if hook not in request_hooks:
        request_hooks.append(hook)
    client.event_hooks = {**hooks, "request": request_hooks}  # type: ignore[attr-defined]
    return client
