"""The one path every decoder's output takes: normalize → privacy → row → bytes.

Native events, OTLP spans and logs, and Loki entries all arrive here as raw events
(dicts in the native contract shape), so the contract checks and the privacy engine
cannot be skipped by any protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import msgspec

from stacklens.analytics.pricing import Pricer
from stacklens.ids import Clock, IdFactory, new_ulid, system_clock_ns
from stacklens.ingest.steps import CHUNK, Steps, run_steps
from stacklens.privacy import Redactor
from stacklens.schema import DEFAULT_LIMITS, EventError, Limits, normalize, to_row

__all__ = ["ForbiddenStackError", "IngestPipeline", "Prepared", "with_placeholders"]


class ForbiddenStackError(PermissionError):
    """An event names a stack its key is not bound to (403)."""


class Prepared(NamedTuple):
    #: NDJSON rows ready for the spool.
    payload: bytes
    rows: int
    #: (index, reason) for every event refused.
    rejected: list[tuple[int, str]]
    stacks: frozenset[str]


def with_placeholders(events: list[Any], rejected: list[tuple[int, str]]) -> list[Any]:
    """A decoder's kept items back at their request positions (``None`` where it
    refused one), so every rejection index ``prepare`` reports refers to the request."""
    refused = {index for index, _ in rejected}
    kept = iter(events)
    return [None if i in refused else next(kept) for i in range(len(events) + len(refused))]


class IngestPipeline:
    def __init__(
        self,
        redactor: Redactor,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock = system_clock_ns,
        new_id: IdFactory = new_ulid,
        pricer: Pricer | None = None,
    ) -> None:
        self.pricer = pricer
        self.redactor = redactor
        self.limits = limits
        self._clock = clock
        self._new_id = new_id
        self._encoder = msgspec.json.Encoder()

    def prepare(
        self,
        raw_events: Iterable[Any],
        *,
        key_stack: str | None,
        default_stack: str | None = None,
        rejected: Iterable[tuple[int, str]] = (),
    ) -> Prepared:
        """Check, redact and encode events; ``rejected`` carries refusals made earlier
        (by a decoder) so one list reports them all. ``None`` entries are placeholders
        for items a decoder already refused."""
        return run_steps(
            self.prepare_steps(
                raw_events, key_stack=key_stack, default_stack=default_stack, rejected=rejected
            )
        )

    def prepare_steps(
        self,
        raw_events: Iterable[Any],
        *,
        key_stack: str | None,
        default_stack: str | None = None,
        rejected: Iterable[tuple[int, str]] = (),
    ) -> Steps[Prepared]:
        """:meth:`prepare`, pausing (``yield``) between chunks of events."""
        if key_stack is not None and default_stack not in (None, key_stack):
            raise ForbiddenStackError(
                f"this key is bound to stack {key_stack!r}, not {default_stack!r}"
            )
        fallback = key_stack or default_stack
        now = self._clock()
        refused = list(rejected)
        lines: list[bytes] = []
        stacks: set[str] = set()
        encode = self._encoder.encode
        for index, raw in enumerate(raw_events):
            if index % CHUNK == CHUNK - 1:
                yield
            if raw is None:
                continue
            try:
                event = normalize(
                    raw, default_stack=fallback, now_ns=now, new_id=self._new_id, limits=self.limits
                )
            except EventError as exc:
                refused.append((index, str(exc)))
                continue
            if key_stack is not None and event["stack_name"] != key_stack:
                raise ForbiddenStackError(
                    f"event {index} is for stack {event['stack_name']!r}; "
                    f"this key is bound to {key_stack!r}"
                )
            if self.pricer is not None:
                self.pricer.apply(event)  # before privacy: pricing reads the raw model name
            safe = self.redactor.redact_event(event).event
            stacks.add(safe["stack_name"])
            lines.append(encode(to_row(safe, now)))
        refused.sort()
        payload = b"\n".join(lines) + b"\n" if lines else b""
        return Prepared(payload, len(lines), refused, frozenset(stacks))
