"""Exports: a month of billing records (CSV or Parquet) and one user's own data.

Billing rows are the ``billing_daily`` records (day x stack x user x model x provider
x agent: calls, tokens, cost, unpriced calls); user ids are the stored pseudonyms.
Each line's ``record`` is ``billing``; a closed month's repricing follows them as
separate lines with ``record`` = ``adjustment`` (the cost and unpriced-count change,
no calls or tokens, its ``reason`` and ``recorded_at``): the month's total is the sum
of both, and the original lines stay what they were when the month closed.
A user's export (seed 000 §5.3) holds their session summaries, billing records and
the raw events still retained, under their pseudonymized id.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any, Final

from stacklens.analytics.analytics_service import Analytics, format_ns
from stacklens.analytics.costs import (
    BILLING_COLUMNS,
    adjustment_rows,
    billing_rows,
    month_range_ns,
)
from stacklens.analytics.queries import Filters
from stacklens.analytics.sessions import list_sessions
from stacklens.store.columns import EVENT_COLUMNS
from stacklens.store.dialect import Dialect, Params

__all__ = [
    "EXPORT_COLUMNS",
    "EXPORT_FORMATS",
    "billing_csv",
    "billing_parquet",
    "billing_records",
    "parse_month",
    "user_events_sql",
    "user_export",
]

EXPORT_FORMATS: Final = ("csv", "parquet")
#: The export's columns: the billing record's, then what marks an adjustment line.
EXPORT_COLUMNS: Final = (*BILLING_COLUMNS, "record", "reason", "recorded_at")
_MONTH: Final = re.compile(r"(\d{4})-(\d{2})")


def parse_month(text: str) -> tuple[int, int]:
    """``YYYY-MM`` → (year, month); ``ValueError`` otherwise."""
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"month must be YYYY-MM, not {text[:20]!r}")
    return int(match.group(1)), int(match.group(2))


def billing_records(
    analytics: Analytics, month: str, stacks: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    start, end = month_range_ns(*parse_month(month))
    rows = analytics.rows(billing_rows(analytics.d, start, end, stacks))
    for row in rows:
        row["record"] = "billing"
    for adjustment in analytics.rows(adjustment_rows(analytics.d, start, end, stacks)):
        recorded = adjustment.pop("recorded_ns")
        adjustment["recorded_at"] = None if recorded is None else format_ns(int(recorded))
        rows.append({**adjustment, "record": "adjustment"})
    for row in rows:
        for key in ("user_id", "model", "provider", "agent"):
            if row[key] == "":
                row[key] = None
    return rows


def billing_csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in EXPORT_COLUMNS})
    return buffer.getvalue().encode()


def billing_parquet(rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {
        "day": pa.string(),
        "stack_name": pa.string(),
        "user_id": pa.string(),
        "model": pa.string(),
        "provider": pa.string(),
        "agent": pa.string(),
        "cost_usd": pa.float64(),
        "record": pa.string(),
        "reason": pa.string(),
        "recorded_at": pa.string(),
    }
    schema = pa.schema([(c, types.get(c, pa.int64())) for c in EXPORT_COLUMNS])
    table = pa.Table.from_pylist(
        [{c: row.get(c) for c in EXPORT_COLUMNS} for row in rows], schema=schema
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def user_events_sql(
    d: Dialect, user_id: str, stacks: tuple[str, ...] | None, *, limit: int
) -> tuple[str, dict[str, Any]]:
    """Every stored event of one user, oldest first (at most ``limit``)."""
    p = Params(d)
    cond = f"user_id = {p('user', user_id)}"
    if stacks is not None:
        cond += f" AND {d.in_list('stack_name', p('stacks', stacks, 'str_list'))}"
    names = ", ".join(
        f"{d.ts_to_ns(c.name)} AS timestamp_ns" if c.kind == "timestamp" else c.name
        for c in EVENT_COLUMNS
        if c.name != "received_ns"
    )
    sql = (
        f"SELECT {names} FROM events WHERE {cond} ORDER BY ts, event_id "
        f"LIMIT {p('limit', limit, 'int')}"
    )
    return sql, p.values


def user_export(
    analytics: Analytics,
    user_id: str,
    stacks: tuple[str, ...] | None,
    *,
    max_events: int = 100_000,
) -> dict[str, Any]:
    """Everything stored about one (pseudonymized) user id."""
    everything = Filters(since_ns=0, until_ns=2**62, stacks=stacks, user=user_id)
    d = analytics.d
    sessions = analytics.rows(list_sessions(d, everything, limit=1_000_000))
    billing = analytics.rows(billing_rows(d, 0, 2**62, stacks, user=user_id))
    events = analytics.rows(user_events_sql(d, user_id, stacks, limit=max_events + 1))
    truncated = len(events) > max_events
    clean = []
    for event in events[:max_events]:
        event["timestamp"] = format_ns(int(event["timestamp_ns"]))
        clean.append({k: v for k, v in event.items() if v is not None and v != "{}"})
    for session in sessions:
        for key in ("start_ns", "end_ns", "first_ns", "last_ns"):
            if session.get(key) is not None:
                session[key.replace("_ns", "")] = format_ns(int(session[key]))
    return {
        "user_id": user_id,
        "sessions": sessions,
        "billing": billing,
        "events": clean,
        "events_truncated": truncated,
    }
