"""When a month's billing records close, after which they are never rewritten.

A month is **closed** once it has ended (UTC) and :data:`CLOSE_GRACE_NS` has passed:
its invoices may have gone out, so a cost backfill or a price change after that must
not change the records a bill was made from. The backfill instead appends
``billing_adjustments`` rows (the cost change per billing key, with a reason and
time); billing exports list them as separate lines marked ``adjustment``, and cost
queries add them to the originals. An open month (the current one, and the previous
one during the grace period) is repriced in place, as always.

The grace period is 0: a month closes at its last nanosecond. Late events for a
closed month (a client's retry after the month ended) still fold into its records
at load time; only repricing is held to the closed month.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

__all__ = ["CLOSE_GRACE_NS", "is_closed", "open_since_ns"]

CLOSE_GRACE_NS: Final = 0


def _month_start_ns(moment: dt.datetime) -> int:
    return int(dt.datetime(moment.year, moment.month, 1, tzinfo=dt.UTC).timestamp()) * 10**9


def open_since_ns(now_ns: int, grace_ns: int = CLOSE_GRACE_NS) -> int:
    """The start of the oldest month still open at ``now_ns``: events before it belong
    to closed months."""
    moment = dt.datetime.fromtimestamp((now_ns - grace_ns) // 10**9, tz=dt.UTC)
    return _month_start_ns(moment)


def is_closed(ts_ns: int, now_ns: int, grace_ns: int = CLOSE_GRACE_NS) -> bool:
    """Whether the billing month holding ``ts_ns`` is closed at ``now_ns``."""
    return ts_ns < open_since_ns(now_ns, grace_ns)
