"""``stacklens prices backfill``: recompute stored costs after a price change.

Candidates are stored events since the given time with a model and tokens whose cost
the hub computed (``cost_source`` attribute) or could not compute (no cost). A
client-sent cost is never touched. For every event whose cost changes, the same
transaction updates the event and adds the difference to ``usage_hourly``,
``billing_daily`` and ``session_summaries``.

Limits (documented): only days still held as raw events (7 days by default) can be
recomputed; older billing records keep their cost. The ``/metrics`` counters
(``stacklens_cost_usd_total``) are not revised — a Prometheus counter must never go
down — so they keep the cost as priced at ingest.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec

from stacklens.analytics.pricing import COST_SOURCE_KEY, Pricer
from stacklens.analytics.rollups import (
    BILLING_DAILY,
    SESSION_SUMMARIES,
    USAGE_HOURLY,
    Table,
)
from stacklens.store.dialect import DUCKDB, Dialect, Params

__all__ = ["BackfillResult", "backfill", "candidates_sql"]


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
        ", sum(CAST(r.new_cost IS NULL AS BIGINT) - CAST(e.cost_usd IS NULL AS BIGINT))"
        if has_unpriced
        else ""
    )
    select = (
        f"SELECT {select_cols}, {delta}{unpriced} FROM events e JOIN repriced r "
        f"ON e.event_id = r.event_id AND e.ts = r.ts WHERE {where} GROUP BY {group}"
    )
    return d.upsert(table.name, cols, table.key, merges, select)


def _statements(d: Dialect) -> list[str]:
    hourly = _delta_upsert(
        d,
        USAGE_HOURLY,
        f"{d.hour('e.ts')}, e.stack_name, e.event_type, coalesce(e.model, ''), "
        "coalesce(e.agent, ''), coalesce(e.tool, ''), coalesce(e.role, '')",
        "1, 2, 3, 4, 5, 6, 7",
        "true",
    )
    billing = _delta_upsert(
        d,
        BILLING_DAILY,
        f"{d.day('e.ts')}, e.stack_name, coalesce(e.user_id, ''), coalesce(e.model, ''), "
        "coalesce(e.provider, ''), coalesce(e.agent, '')",
        "1, 2, 3, 4, 5, 6",
        "true",
    )
    sessions = _delta_upsert(
        d, SESSION_SUMMARIES, "e.stack_name, e.session_id", "1, 2", "e.session_id IS NOT NULL"
    )
    update = (
        "UPDATE events SET cost_usd = r.new_cost, attributes = CASE WHEN r.new_cost IS NULL "
        f"THEN json_merge_patch(events.attributes, '{{\"{COST_SOURCE_KEY}\": null}}') "
        f"ELSE json_merge_patch(events.attributes, json_object('{COST_SOURCE_KEY}', r.source)) END "
        "FROM repriced r WHERE events.event_id = r.event_id AND events.ts = r.ts"
    )
    return [hourly, billing, sessions, update]


def backfill(
    con: Any,
    pricer: Pricer,
    since_ns: int,
    until_ns: int | None = None,
    *,
    lock: threading.Lock | None = None,
    d: Dialect = DUCKDB,
) -> BackfillResult:
    """Reprice candidates on the store's writer connection ``con`` (take the store's
    write lock so the loader does not interleave)."""
    import pyarrow as pa

    sql, params = candidates_sql(d, since_ns, until_ns)
    rows = con.execute(sql, params).fetchall()
    changed: list[dict[str, Any]] = []
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
            changed.append(
                {
                    "event_id": event_id,
                    "ts": ts_ns // 1000,
                    "new_cost": new,
                    "source": None if new is None else pricer.source(provider or None, model),
                }
            )
    if not changed:
        return BackfillResult(examined=len(rows), repriced=0, unpriced=unpriced)
    table = pa.Table.from_pylist(
        changed,
        schema=pa.schema(
            [
                ("event_id", pa.string()),
                ("ts", pa.timestamp("us")),
                ("new_cost", pa.float64()),
                ("source", pa.string()),
            ]
        ),
    )
    guard = lock if lock is not None else threading.Lock()
    with guard:
        con.register("repriced_arrow", table)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE repriced AS SELECT * FROM repriced_arrow")
            for statement in _statements(d):
                con.execute(statement)
            con.execute("DROP TABLE repriced")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("repriced_arrow")
    return BackfillResult(examined=len(rows), repriced=len(changed), unpriced=unpriced)
