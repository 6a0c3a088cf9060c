"""CPU work off the event loop.

Decoding and preparing a large request is pure-Python CPU work: run on the event loop,
an 8.7 MB OTLP JSON body held every other request for 6.7 s. The long loops are
written as generators that ``yield`` between chunks of items (:data:`Steps`):
:func:`run_steps` runs one straight through (worker processes, sync callers), and
:func:`drive` runs it in a thread so the loop keeps serving.

Measured on the 2-core dev box, one maximal OTLP JSON request (20,000 spans, 10 MB)
in flight, small native requests beside it (ack latency, 3 runs each):

* on the loop, unchanged: every small request waited for the whole request (1.8 s);
* on the loop, yielding every 1 ms at the yield points: p50 46-61 ms, p99 186-305 ms
  (every small request needs several loop turns, each one a slice behind);
* in a thread, default 5 ms GIL switch interval: p50 18-56 ms, p99 85-234 ms (each
  I/O the loop thread does hands the GIL over for a whole interval);
* in a thread, 1 ms switch interval: p50 14-32 ms, p99 82-97 ms.

So :func:`drive` uses a thread and the process's switch interval is set to 1 ms the
first time (``sys.setswitchinterval`` is per process; the cost is more GIL hand-offs,
about 5 % on the large request). What stays on the GIL in one piece is C work that
scales with the body (msgspec reads 10 MB of JSON in ~70 ms), which the body-size limit
bounds.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Generator
from typing import Final, TypeVar

__all__ = ["CHUNK", "SWITCH_INTERVAL_S", "Steps", "drive", "run_steps"]

T = TypeVar("T")

#: A generator that yields (``None``) where it may be paused, and returns its result.
Steps = Generator[None, None, T]

#: Items handled between two yield points.
CHUNK: Final = 200
#: The GIL switch interval while ingest work runs in threads (CPython default: 5 ms).
SWITCH_INTERVAL_S: Final = 0.001


def run_steps(steps: Steps[T]) -> T:
    """Run ``steps`` to the end without pausing."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            result: T = stop.value
            return result


async def drive(steps: Steps[T]) -> T:
    """Run ``steps`` in a worker thread; the event loop keeps serving meanwhile."""
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
    return await asyncio.to_thread(run_steps, steps)
