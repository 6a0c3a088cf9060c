"""``stacklens prices backfill``: recompute stored costs after a price change.

Candidates are stored events since the given time with a model and tokens whose cost
the hub computed (``cost_source`` attribute) or could not compute (no cost). A
client-sent cost is never touched. For every event whose cost changes, the same
transaction updates the event and adds the difference to ``usage_hourly``,
``billing_daily`` and ``session_summaries``.

Billing records of a closed month (:mod:`stacklens.analytics.billing_close`) are never
rewritten: their cost change goes to ``billing_adjustments`` instead (one row per
billing key, reason ``backfill``), in the same transaction. The events, ``usage_hourly``
and ``session_summaries`` are repriced in place whatever the month.

Limits (documented): only days still held as raw events (7 days by default) can be
recomputed; older billing records keep their cost. The ``/metrics`` counters
(``stacklens_cost_usd_total``) are not revised — a Prometheus counter must never go
down — so they keep the cost as priced at ingest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol

import msgspec

from stacklens.analytics.billing_close import is_closed
from stacklens.analytics.pricing import COST_SOURCE_KEY, Pricer
from stacklens.analytics.rollups import (
    BILLING_ADJUSTMENTS,
    BILLING_DAILY,
    SESSION_SUMMARIES,
    USAGE_HOURLY,
    Table,
)
from stacklens.store.base import Params as StatementParams
from stacklens.store.base import QueryResult, StagedRows
from stacklens.store.dialect import Dialect, Params

__all__ = [
    "BACKFILL_REASON",
    "REPRICED",
    "BackfillResult",
    "RepricingStore",
    "backfill",
    "candidates_sql",
    "repricing_statements",
]

#: The new prices, staged for the statements of :func:`repricing_statements`.
REPRICED: Final = "repriced"
_REPRICED_COLUMNS: Final = (
    ("event_id", "string"),
    ("ts", "timestamp"),
    ("new_cost", "float"),
    ("source", "string"),
    # 1 when the event's billing month is closed: its change becomes an adjustment.
    ("closed", "int"),
    ("recorded_at", "timestamp"),
)
#: ``billing_adjustments.reason`` of a backfill's adjustments.
BACKFILL_REASON: Final = "backfill"


class RepricingStore(Protocol):
    """What a backfill needs of a store (:class:`stacklens.store.base.Store` has it)."""

    @property
    def dialect(self) -> Dialect: ...

    def fetch(self, statement: str, params: StatementParams | None = None) -> QueryResult: ...

    def apply_staged(self, staged: StagedRows, statements: Sequence[str]) -> None: ...


class BackfillResult(msgspec.Struct, frozen=True):
    examined: int
    repriced: int
    unpriced: int


def candidates_sql(d: Dialect, since_ns: int, until_ns: int | None) -> tuple[str, dict[str, Any]]:
    p = Params(d)
    cond = f"ts >= {d.ts_from_ns(p('since', since_ns, 'ts_ns'))}"
    if until_ns is not None:
        cond += f" AND ts < {d.ts_from_ns(p('until', until_ns, 'ts_ns'))}"
    sql = (
        f"SELECT event_id, {d.ts_to_ns('ts')}, provider, model, tokens_in, tokens_out, "
        f"tokens_cache_read, tokens_cache_write, cost_usd, "
        f"{d.json_text('attributes', COST_SOURCE_KEY)} FROM events WHERE {cond} "
        "AND model IS NOT NULL AND (tokens_in IS NOT NULL OR tokens_out IS NOT NULL "
        "OR tokens_cache_read IS NOT NULL OR tokens_cache_write IS NOT NULL) "
        f"AND (cost_usd IS NULL OR {d.json_text('attributes', COST_SOURCE_KEY)} IS NOT NULL)"
    )
    return sql, p.values


def _delta_upsert(d: Dialect, table: Table, select_cols: str, group: str, where: str) -> str:
    """Add (new - old) cost, and the change in unpriced count, to a rollup."""
    has_unpriced = "unpriced" in table.names
    values = ["cost_usd"] + (["unpriced"] if has_unpriced else [])
    merges = {c: table.merges[c] for c in values}
    cols = [*table.key, *values]
    delta = "sum(coalesce(r.new_cost, 0) - coalesce(e.cost_usd, 0))"
    unpriced = (
        f", sum({d.cast('r.new_cost IS NULL', 'int')} - {d.cast('e.cost_usd IS NULL', 'int')})"
        if has_unpriced
        else ""
    )
    select = (
        f"SELECT {select_cols}, {delta}{unpriced} FROM events e JOIN repriced r "
        f"ON e.event_id = r.event_id AND e.ts = r.ts WHERE {where} GROUP BY {group}"
    )
    return d.upsert(table.name, cols, table.key, merges, select)


def repricing_statements(d: Dialect) -> list[str]:
    """Over the staged ``repriced`` rows: add each cost change to the rollups, then
    set the events' cost and ``cost_source``."""
    hourly = _delta_upsert(
        d,
        USAGE_HOURLY,
        f"{d.hour('e.ts')}, e.stack_name, e.event_type, coalesce(e.model, ''), "
        "coalesce(e.agent, ''), coalesce(e.tool, ''), coalesce(e.role, '')",
        "1, 2, 3, 4, 5, 6, 7",
        "true",
    )
    billing_key = (
        f"{d.day('e.ts')}, e.stack_name, coalesce(e.user_id, ''), coalesce(e.model, ''), "
        "coalesce(e.provider, ''), coalesce(e.agent, '')"
    )
    billing = _delta_upsert(d, BILLING_DAILY, billing_key, "1, 2, 3, 4, 5, 6", "r.closed = 0")
    unpriced_delta = (
        f"sum({d.cast('r.new_cost IS NULL', 'int')} - {d.cast('e.cost_usd IS NULL', 'int')})"
    )
    adjust = (
        f"INSERT INTO {BILLING_ADJUSTMENTS.name} ({', '.join(BILLING_ADJUSTMENTS.names)}) "
        f"SELECT {billing_key}, sum(coalesce(r.new_cost, 0) - coalesce(e.cost_usd, 0)), "
        f"{unpriced_delta}, '{BACKFILL_REASON}', max(r.recorded_at) FROM events e "
        "JOIN repriced r ON e.event_id = r.event_id AND e.ts = r.ts WHERE r.closed = 1 "
        "GROUP BY 1, 2, 3, 4, 5, 6"
    )
    sessions = _delta_upsert(
        d, SESSION_SUMMARIES, "e.stack_name, e.session_id", "1, 2", "e.session_id IS NOT NULL"
    )
    attributes = (
        f"CASE WHEN r.new_cost IS NULL THEN {d.json_remove('events.attributes', COST_SOURCE_KEY)} "
        f"ELSE {d.json_set_text('events.attributes', COST_SOURCE_KEY, 'r.source')} END"
    )
    update = d.update_from(
        "events",
        {"cost_usd": "r.new_cost", "attributes": attributes},
        REPRICED,
        "r",
        "events.event_id = r.event_id AND events.ts = r.ts",
    )
    return [hourly, billing, adjust, sessions, update]


def backfill(
    store: RepricingStore,
    pricer: Pricer,
    since_ns: int,
    until_ns: int | None = None,
    *,
    now_ns: int | None = None,
) -> BackfillResult:
    """Reprice the candidates: read them through ``store.fetch``, price them here, and
    write every change in one transaction through ``store.apply_staged``.

    ``now_ns`` decides which billing months are closed (their changes become
    adjustments); ``None`` treats every month as open."""
    d = store.dialect
    sql, params = candidates_sql(d, since_ns, until_ns)
    rows = store.fetch(sql, params).rows
    changed: list[tuple[Any, ...]] = []
    unpriced = 0
    for event_id, ts_ns, provider, model, t_in, t_out, c_read, c_write, old, _ in rows:
        new = pricer.price(
            provider or None,
            model,
            tokens_in=t_in or 0,
            tokens_out=t_out or 0,
            cache_read=c_read or 0,
            cache_write=c_write or 0,
            at_ns=ts_ns,
        )
        if new is None:
            unpriced += 1
        if new != old and not (new is not None and old is not None and abs(new - old) < 1e-12):
            source = None if new is None else pricer.source(provider or None, model)
            closed = now_ns is not None and is_closed(ts_ns, now_ns)
            changed.append((event_id, ts_ns, new, source, int(closed), now_ns or 0))
    if changed:
        staged = StagedRows(REPRICED, _REPRICED_COLUMNS, changed)
        store.apply_staged(staged, repricing_statements(d))
    return BackfillResult(examined=len(rows), repriced=len(changed), unpriced=unpriced)
