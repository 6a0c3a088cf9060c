"""Test support for retention: a day of constant traffic, and the figures a day's
data gives (raw and rollup-backed) to compare before and after the raw days go."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from stacklens.schema import EventRow, MetricRow
from stacklens.store.base import Reader, Store

__all__ = [
    "DAY_NS",
    "START_NS",
    "day_figures",
    "day_points",
    "day_traffic",
    "load_segment",
    "native_events",
    "table_counts",
]

DAY_NS: Final = 86_400 * 10**9
#: 2026-06-01T00:00Z, where the retention tests' simulated days start.
START_NS: Final = 1_780_272_000 * 10**9
_numbers = itertools.count(1)


def load_segment(
    store: Store, tmp: Path, rows: Sequence[msgspec.Struct], stream: str = "events"
) -> None:
    """Load rows as the loader does: one sealed NDJSON spool segment."""
    number = next(_numbers)
    path = tmp / f"segment-{number:06d}.ndjson"
    path.write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in rows))
    store.load_segments(stream, [(number, path)])


def day_traffic(day_start_ns: int, count: int, *, stack: str = "alpha") -> list[EventRow]:
    """``count`` events spread over one UTC day: one session of messages, priced LLM
    calls and tool uses (a session per stack per day, opened and closed)."""
    session = f"s-{stack}-{day_start_ns // DAY_NS}"
    step = DAY_NS // (count + 1)
    rows: list[EventRow] = []
    for i in range(count):
        ts = day_start_ns + (i + 1) * step
        event_id = f"{stack}-{day_start_ns // DAY_NS}-{i:05d}"
        common: dict[str, Any] = {
            "event_id": event_id,
            "ts": ts,
            "stack_name": stack,
            "session_id": session,
            "user_id": f"u-{i % 3}",
        }
        if i == 0:
            rows.append(EventRow(event_type="session_start", **common))
        elif i == count - 1:
            rows.append(EventRow(event_type="session_end", **common))
        elif i % 3 == 0:
            rows.append(
                EventRow(event_type="tool_use", tool="search", success=i % 9 != 0, **common)
            )
        elif i % 3 == 1:
            rows.append(EventRow(event_type="message", role="user", message="hello", **common))
        else:
            rows.append(
                EventRow(
                    event_type="llm_call",
                    model="gpt-4o",
                    provider="openai",
                    tokens_in=100 + i,
                    tokens_out=20 + i,
                    cost_usd=0.001 * (i + 1),
                    duration_ms=100.0 + 10 * i,
                    **common,
                )
            )
    return rows


_TOP: Final = ("event_id", "stack_name", "session_id", "user_id", "event_type")


def native_events(rows: Sequence[EventRow]) -> list[dict[str, Any]]:
    """The same events as a client sends them to ``POST /v1/events``."""
    out = []
    for row in rows:
        fields = msgspec.structs.asdict(row)
        event = {k: fields.pop(k) for k in _TOP if fields.get(k) is not None}
        event["timestamp"] = fields.pop("ts")
        data = {
            k: v
            for k, v in fields.items()
            if v is not None and k not in ("attributes", "received_ns", "message")
        }
        if row.message is not None:
            data["content"] = row.message
        event["data"] = data
        out.append(event)
    return out


def day_points(day_start_ns: int, count: int, *, stack: str = "alpha") -> list[MetricRow]:
    """``count`` OTel gauge points over one UTC day."""
    step = DAY_NS // (count + 1)
    return [
        MetricRow(
            point_id=f"p-{stack}-{day_start_ns // DAY_NS}-{i:05d}",
            ts=day_start_ns + (i + 1) * step,
            stack_name=stack,
            name="gpu_util",
            kind="gauge",
            value=float(i % 100),
        )
        for i in range(count)
    ]


def table_counts(reader: Reader, table: str, column: str) -> dict[str, int]:
    """Rows of ``table`` per UTC day of ``column`` (``YYYY-MM-DD``)."""
    d = reader.dialect
    day = d.date_to_text(d.day(column))
    rows = reader.fetch(f"SELECT {day} AS day, count(*) FROM {table} GROUP BY 1 ORDER BY 1").rows
    return {str(k): int(v) for k, v in rows}


def day_figures(analytics: Any, day_start_ns: int, stacks: tuple[str, ...] | None) -> Any:
    """What the rollups say about one day: usage per hour, tokens by model, cost by
    day and user, the sessions and the billing records (JSON-ready, comparable)."""
    from stacklens.analytics import costs
    from stacklens.analytics.queries import Filters

    f = Filters(since_ns=day_start_ns, until_ns=day_start_ns + DAY_NS, stacks=stacks)
    return {
        "usage": analytics.series(f, ("events", "messages", "tokens_in", "cost_usd")),
        "tokens": analytics.tokens(f, "model"),
        "tools": analytics.tools(f),
        "costs": analytics.costs(f, "user_id")["rows"],
        "sessions": analytics.sessions(f),
        "billing": analytics.rows(costs.billing_rows(analytics.d, f.since_ns, f.until_ns, stacks)),
    }
