"""Every statement the hub builds goes through the dialect: built over a marker
dialect, none keeps a DuckDB-only spelling — so a second backend supplies a dialect
and an adapter, and nothing else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from stacklens.alerting.signals import SIGNALS, Condition, Filter, build_query
from stacklens.analytics import (
    backfill,
    collector,
    costs,
    export,
    heartbeats,
    queries,
    rollups,
    sessions,
    usage,
)
from stacklens.analytics.heartbeats import DEFAULT_POLICY
from stacklens.analytics.queries import Filters
from stacklens.logql import sql as logql_sql
from stacklens.logql.syntax import LabelMatcher, LineFilter, NumberFilter
from stacklens.promql import hub_sql
from stacklens.retention import erasure, status
from stacklens.store import sql
from stacklens.store.base import EventQuery
from stacklens.store.columns import TABLES
from stacklens.testing.dialects import DUCKDB_ONLY, MARKER

S = 10**9
HOURS = Filters(since_ns=0, until_ns=3600 * S)  # aligned: the hourly rollup
RAW = Filters(since_ns=1, until_ns=3600 * S, user="u", model="m", agent="a", stacks=("x",))
d = MARKER

_SIGNAL_PARAMS = {
    "tokens": {"direction": "input"},
    "budget_utilization": {"budget_usd": 5},
    "latency_quantile": {"quantile": 0.9},
    "last_seen_age": {"min_heartbeats": 3},
    "metric_value": {"metric": "gpu", "divide_by": "mem"},
}
_FILTERS = (
    Filter("model", "=", "m"),
    Filter("user_id", "!=", "u"),
    Filter("stack_name", "=~", "a.*"),
    Filter("status_code", "in", ("200",)),
    Filter("attributes.gpu.id", "not_in", ("0",)),
)


def statements() -> Iterator[tuple[str, str]]:
    """(what, SQL) for every builder, with every option that changes the SQL."""
    for table in TABLES.values():
        yield f"ddl {table.name}", sql.table_ddl(table, d)
        yield f"dedup {table.name}", sql.dedup_staged_sql(table, 0, d)[0]
        yield f"insert {table.name}", sql.insert_staged_sql(table, d)
    yield "checkpoints ddl", sql.checkpoints_ddl(d)
    yield "checkpoint", sql.checkpoint_sql("events", d)[0]
    yield "set checkpoint", sql.set_checkpoint_sql("events", 1, d)[0]
    query = EventQuery(stacks=("a",), event_type="t", session_id="s", since_ns=1, until_ns=2)
    yield "events", sql.select_events_sql(query, d)[0]
    yield (
        "metric points",
        sql.select_metric_points_sql(name="n", stacks=("a",), since_ns=1, until_ns=2, limit=5, d=d)[
            0
        ],
    )
    yield "metric names", sql.metric_names_sql(("a",), d)[0]
    yield "drop day", " ".join(sql.drop_day_sql("events", dt.date(2026, 1, 1), d)[0])
    yield "erase user rows", sql.erase_user_rows_sql("events", ("u",), d)[0]
    for i, step in enumerate(erasure.erasure_steps(d, ("u", "v"))):
        yield f"erasure step {i}", step.statement
    for tier, tables in status.TIER_TABLES.items():
        for table in tables:
            yield f"oldest {tier} {table.table}", status.oldest_sql(d, table)
    yield "billing adjustments", costs.adjustment_rows(d, 0, S, ("a",))[0]
    for f in (HOURS, RAW):
        name = "hourly" if f is HOURS else "raw"
        measures = queries.MEASURES
        yield f"series {name}", queries.series(d, f, measures, group_by="model")[0]
        yield f"breakdown {name}", queries.breakdown(d, f, "tool", measures, event_types=("x",))[0]
        yield f"totals {name}", queries.totals(d, f, measures)[0]
        yield f"latency {name}", usage.latency(d, f, by_model=True)[0]
        yield f"error log {name}", usage.error_log(d, f)[0]
        for dim in costs.COST_DIMENSIONS:
            for mixed in ((), ("m",)):
                yield f"cost by {dim} {name} {mixed}", costs.cost_by(d, f, dim, mixed=mixed)[0]
        yield f"cost in days {name}", costs.cost_in_days(d, f)[0]
        for mixed in ((), ("m",)):
            yield f"unpriced {name} {mixed}", costs.unpriced(d, f, mixed=mixed)[0]
        found = costs.mixed_models(d, f)
        if found is not None:
            yield f"mixed models {name}", found[0]
        yield f"user sessions {name}", costs.user_sessions(d, f)[0]
        yield f"sessions {name}", sessions.list_sessions(d, f)[0]
    yield "billing rows", costs.billing_rows(d, 0, S, ("a",), "u")[0]
    yield "active stacks", usage.active_stacks(d, S, 60, ("a",))[0]
    yield "heartbeats", heartbeats.stack_heartbeats(d, S, 60, ("a",), DEFAULT_POLICY)[0]
    newest = {"a": 0, "b": 0, "c": S}
    yield (
        "newest heartbeats",
        heartbeats.stack_heartbeats(d, S, 60, None, DEFAULT_POLICY, newest_from=newest)[0],
    )
    yield "heartbeat hours", heartbeats.heartbeat_hours(d, S, 60, ("a",))[0]
    yield "session bounds", sessions.session_bounds(d, "s", ("a",))[0]
    yield "session events", sessions.session_events(d, "s", "a", 0, 1)[0]
    yield "active sessions", sessions.active_sessions(d, S, 60, ("a",))[0]
    for i, statement in enumerate(rollups.ddl_statements(d)):
        yield f"rollup ddl {i}", statement
    for i, statement in enumerate(rollups.load_statements(d)):
        yield f"rollup load {i}", statement
    yield "collector counters", collector.counters_sql()
    yield "collector last seen", collector.last_seen_sql(d)
    yield "user events", export.user_events_sql(d, "u", ("a",), limit=5)[0]
    yield "backfill candidates", backfill.candidates_sql(d, 0, S)[0]
    for i, statement in enumerate(backfill.repricing_statements(d)):
        yield f"repricing {i}", statement
    yield from _logql_statements()
    for name, signal in SIGNALS.items():
        by = ("stack_name",) if signal.post else ("stack_name", "attributes.team")
        where = _FILTERS if signal.table == "events" else _FILTERS[2:3]
        condition = Condition(name, 300 * S, ">", 1.0, by, where, _SIGNAL_PARAMS.get(name, {}))
        yield f"signal {name}", build_query(condition, 10**18, dialect=d)[0]


def _logql_statements() -> Iterator[tuple[str, str]]:
    matchers = tuple(
        LabelMatcher(name, op, "v")  # type: ignore[arg-type]
        for name, op in (("service", "="), ("app", "!="), ("level", "=~"), ("pod", "!~"))
    )
    filters = [LineFilter(op, "x") for op in ("|=", "!=", "|~", "!~")]  # type: ignore[arg-type]

    def window() -> logql_sql.Window:
        return logql_sql.Window(d, since_ns=1, until_ns=S, stacks=("a",), matchers=matchers)

    for direction in ("forward", "backward"):
        statement = logql_sql.select_rows_sql(
            window(),
            filters,
            direction=direction,
            limit=5,
            after=(1, "e"),  # type: ignore[arg-type]
            label_filters=(NumberFilter("duration_ms", ">", 5.0), LabelMatcher("agent", "=~", "a")),
        )
        yield f"logql rows {direction}", statement[0]
    yield "logql count buckets", logql_sql.count_buckets_sql(window(), filters, 60 * S)[0]
    yield "logql count buckets, all rows", logql_sql.count_buckets_sql(window(), [], S)[0]
    yield "logql label names", logql_sql.label_names_sql(window())[0]
    yield "logql label values", logql_sql.label_values_sql(window(), "app", 5)[0]
    yield "logql series", logql_sql.series_sql(window(), 5)[0]
    yield "logql stats", logql_sql.stats_sql(window())[0]
    for family in ("tokens", "messages", "errors"):
        yield (
            f"promql increments {family}",
            hub_sql.increments_sql(d, [family], ("a",), 0, S, 15 * S, 10)[0],
        )
        yield (
            f"promql minutes {family}",
            hub_sql.increments_sql(d, [family, "tools"], None, 0, 60 * S, 60 * S, 10)[0],
        )
    yield "promql totals", hub_sql.totals_sql(d, ["tokens"], ("a",), 10)[0]
    yield "promql newest", hub_sql.newest_sql(d, ("a",), 0, S, 15 * S)[0]


@pytest.mark.parametrize(("what", "statement"), list(statements()), ids=lambda v: str(v)[:40])
def test_no_duckdb_only_spelling_outside_the_dialect(what: str, statement: str) -> None:
    leaked = [token for token in DUCKDB_ONLY if token in statement]
    assert not leaked, f"{what}: {leaked} in {statement}"
