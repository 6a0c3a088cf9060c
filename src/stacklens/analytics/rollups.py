"""Rollup tables maintained as data arrives, inside the loader's transaction.

The loader stages each batch of spool segments in the temp table ``staging``; the
statements of :func:`load_statements` run over it *before* the rows are inserted into
``events`` (the first one drops rows whose ``event_id`` is already stored, so a retried
event is never counted twice). All upserts add to what is there, so each table grows
incrementally:

``usage_hourly``      hour x stack x event type x model x agent x tool x role: counts,
                      failures, errors, tokens, cost, durations (dashboards; 90 days).
``billing_daily``     day x stack x user x model x provider x agent: tokens, cost
                      (billing records; 7 years).
``session_summaries`` one row per session: user, start, end, messages, tool calls,
                      tokens, cost, errors, models, agents (1 year).
``stack_last_seen``   first/last event per stack (stack up, active stacks).
``metric_labels``     the capped label values per stack and dimension.
``metric_counters``   cumulative per-stack series behind /metrics; never pruned, so
                      counters never decrease.
``metric_minutes``    the same series' gains per minute (the Prometheus query API
                      rebuilds a counter's past from them; kept as long as raw events).
                      A table of contributions (:data:`SUM_TABLES`), not upserted.

``billing_adjustments`` (not a load rollup: a cost backfill writes it) holds the cost
changes of billing records of closed months, which are never rewritten (see
:mod:`stacklens.analytics.billing_close`).

Empty dimensions are stored as ``''`` (key columns cannot be NULL).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final

from stacklens.analytics.definitions import (
    IS_ERROR,
    IS_UNPRICED,
    LABEL_CAP,
    TOKEN_DIRECTIONS,
    duration_bucket_case,
)
from stacklens.store.dialect import DUCKDB, Dialect, Merge

__all__ = [
    "BILLING_ADJUSTMENTS",
    "METRIC_MINUTES",
    "MINUTE_NS",
    "ROLLUP_TABLES",
    "SUM_TABLES",
    "TOKEN_COLUMNS",
    "Table",
    "counter_contributions",
    "ddl_statements",
    "load_statements",
    "metric_minutes_sql",
    "staged_minutes_sql",
]

TOKEN_COLUMNS: Final = tuple(column for _, column in TOKEN_DIRECTIONS)


class Table:
    """A rollup table: columns (name, kind), key columns, and per-column merges."""

    def __init__(
        self,
        name: str,
        columns: Sequence[tuple[str, str]],
        key: Sequence[str],
        merges: dict[str, Merge],
    ) -> None:
        self.name = name
        self.columns = tuple(columns)
        self.key = tuple(key)
        self.merges = merges

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


def _sums(*names: str) -> dict[str, Merge]:
    return dict.fromkeys(names, "sum")


_TOKENS_KINDS: Final = tuple((c, "int") for c in TOKEN_COLUMNS)

USAGE_HOURLY: Final = Table(
    "usage_hourly",
    [
        ("hour", "timestamp"),
        ("stack_name", "string"),
        ("event_type", "string"),
        ("model", "string"),
        ("agent", "string"),
        ("tool", "string"),
        ("role", "string"),
        ("events", "int"),
        ("failures", "int"),
        ("errors", "int"),
        *_TOKENS_KINDS,
        ("cost_usd", "float"),
        ("duration_ms_sum", "float"),
        ("duration_count", "int"),
        ("unpriced", "int"),
    ],
    ["hour", "stack_name", "event_type", "model", "agent", "tool", "role"],
    _sums(
        "events",
        "failures",
        "errors",
        *TOKEN_COLUMNS,
        "cost_usd",
        "duration_ms_sum",
        "duration_count",
        "unpriced",
    ),
)

BILLING_DAILY: Final = Table(
    "billing_daily",
    [
        ("day", "date"),
        ("stack_name", "string"),
        ("user_id", "string"),
        ("model", "string"),
        ("provider", "string"),
        ("agent", "string"),
        ("calls", "int"),
        *_TOKENS_KINDS,
        ("cost_usd", "float"),
        ("unpriced", "int"),
    ],
    ["day", "stack_name", "user_id", "model", "provider", "agent"],
    _sums("calls", *TOKEN_COLUMNS, "cost_usd", "unpriced"),
)

SESSION_SUMMARIES: Final = Table(
    "session_summaries",
    [
        ("stack_name", "string"),
        ("session_id", "string"),
        ("user_id", "string"),
        ("start_ts", "timestamp"),
        ("end_ts", "timestamp"),
        ("first_ts", "timestamp"),
        ("last_ts", "timestamp"),
        ("events", "int"),
        ("messages", "int"),
        ("tool_calls", "int"),
        ("llm_calls", "int"),
        *_TOKENS_KINDS,
        ("cost_usd", "float"),
        ("errors", "int"),
        ("models", "str_list"),
        ("agents", "str_list"),
    ],
    ["stack_name", "session_id"],
    {
        "user_id": "coalesce",
        "start_ts": "min",
        "end_ts": "max",
        "first_ts": "min",
        "last_ts": "max",
        **_sums(
            "events", "messages", "tool_calls", "llm_calls", *TOKEN_COLUMNS, "cost_usd", "errors"
        ),
        "models": "union",
        "agents": "union",
    },
)

#: Append-only: one row per (billing key, backfill) of a closed month, the cost and
#: unpriced-count change a repricing would have made to that ``billing_daily`` record.
BILLING_ADJUSTMENTS: Final = Table(
    "billing_adjustments",
    [
        ("day", "date"),
        ("stack_name", "string"),
        ("user_id", "string"),
        ("model", "string"),
        ("provider", "string"),
        ("agent", "string"),
        ("cost_usd", "float"),
        ("unpriced", "int"),
        ("reason", "string"),
        ("recorded_at", "timestamp"),
    ],
    [],
    {},
)

STACK_LAST_SEEN: Final = Table(
    "stack_last_seen",
    [
        ("stack_name", "string"),
        ("first_ts", "timestamp"),
        ("last_ts", "timestamp"),
        ("events", "int"),
    ],
    ["stack_name"],
    {"first_ts": "min", "last_ts": "max", "events": "sum"},
)

METRIC_LABELS: Final = Table(
    "metric_labels",
    [("stack_name", "string"), ("dim", "string"), ("value", "string")],
    ["stack_name", "dim", "value"],
    {},
)

METRIC_COUNTERS: Final = Table(
    "metric_counters",
    [
        ("stack_name", "string"),
        ("family", "string"),
        ("l1", "string"),
        ("l2", "string"),
        ("l3", "string"),
        ("value", "float"),
    ],
    ["stack_name", "family", "l1", "l2", "l3"],
    {"value": "sum"},
)

#: Per minute: what each ``metric_counters`` series gained from the events of that
#: minute. Keyed by family and minute first: a read asks for a family's window.
#: Not upserted like the tables of :data:`ROLLUP_TABLES`: a week of minutes is
#: millions of keys, and DuckDB holds a unique key's index in memory (~40 MB a day
#: of this table at 10 M events a month, over the hub's whole memory limit in a week).
#: Each load appends its rows; :mod:`stacklens.analytics.metric_minutes` folds the
#: minutes just closed.
METRIC_MINUTES: Final = Table(
    "metric_minutes",
    [
        ("minute", "timestamp"),
        ("stack_name", "string"),
        ("family", "string"),
        ("l1", "string"),
        ("l2", "string"),
        ("l3", "string"),
        ("value", "float"),
    ],
    # a read asks for one family's window of minutes: ClickHouse sorts by this key
    ["family", "minute", "stack_name", "l1", "l2", "l3"],
    {"value": "sum"},
)
#: The width of a ``metric_minutes`` row, ns.
MINUTE_NS: Final = 60 * 10**9

ROLLUP_TABLES: Final = (
    USAGE_HOURLY,
    BILLING_DAILY,
    SESSION_SUMMARIES,
    STACK_LAST_SEEN,
    METRIC_LABELS,
    METRIC_COUNTERS,
)
#: Tables of contributions (:meth:`~stacklens.store.dialect.Dialect.create_sums`): a
#: key's rows may repeat, and every read sums them.
SUM_TABLES: Final = (METRIC_MINUTES,)

#: Dimensions whose label values are capped per stack in /metrics.
CAPPED_DIMS: Final = ("model", "agent", "tool", "role")


def ddl_statements(d: Dialect = DUCKDB) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` for every rollup table and the billing
    adjustments."""
    return [
        statement
        for t in (*ROLLUP_TABLES, BILLING_ADJUSTMENTS)
        for statement in d.create_rollup(t.name, t.columns, t.key, t.merges)
    ] + [statement for t in SUM_TABLES for statement in d.create_sums(t.name, t.columns, t.key)]


def _upsert(d: Dialect, table: Table, select: str) -> str:
    return d.upsert(table.name, table.names, table.key, table.merges, select)


def _tok_sums() -> str:
    return ", ".join(f"sum({c})" for c in TOKEN_COLUMNS)


def usage_hourly_sql(d: Dialect = DUCKDB, source: str = "staging") -> str:
    select = (
        f"SELECT {d.hour('ts')}, stack_name, event_type, coalesce(model, ''), "
        "coalesce(agent, ''), coalesce(tool, ''), coalesce(role, ''), count(*), "
        f"{d.count_if('success = false')}, {d.count_if(IS_ERROR)}, {_tok_sums()}, "
        f"sum(cost_usd), sum(duration_ms), count(duration_ms), {d.count_if(IS_UNPRICED)} "
        f"FROM {source} GROUP BY 1, 2, 3, 4, 5, 6, 7"
    )
    return _upsert(d, USAGE_HOURLY, select)


def billing_daily_sql(d: Dialect = DUCKDB, source: str = "staging") -> str:
    select = (
        f"SELECT {d.day('ts')}, stack_name, coalesce(user_id, ''), coalesce(model, ''), "
        "coalesce(provider, ''), coalesce(agent, ''), count(*), "
        f"{_tok_sums()}, sum(cost_usd), {d.count_if(IS_UNPRICED)} FROM {source} "
        "WHERE cost_usd IS NOT NULL OR "
        + " OR ".join(f"{c} IS NOT NULL" for c in TOKEN_COLUMNS)
        + " GROUP BY 1, 2, 3, 4, 5, 6"
    )
    return _upsert(d, BILLING_DAILY, select)


_IS_START: Final = "event_type = 'session_start'"
_IS_END: Final = "event_type = 'session_end'"


def session_summaries_sql(d: Dialect = DUCKDB, source: str = "staging") -> str:
    select = (
        "SELECT stack_name, session_id, max(user_id), "
        f"{d.agg_if('min', 'ts', _IS_START)}, {d.agg_if('max', 'ts', _IS_END)}, "
        "min(ts), max(ts), count(*), "
        + ", ".join(d.count_if(f"event_type = '{t}'") for t in ("message", "tool_use", "llm_call"))
        + ", "
        f"{_tok_sums()}, sum(cost_usd), {d.count_if(IS_ERROR)}, "
        f"{d.distinct_list('model')}, {d.distinct_list('agent')} "
        f"FROM {source} WHERE session_id IS NOT NULL GROUP BY 1, 2"
    )
    return _upsert(d, SESSION_SUMMARIES, select)


def stack_last_seen_sql(d: Dialect = DUCKDB, source: str = "staging") -> str:
    select = f"SELECT stack_name, min(ts), max(ts), count(*) FROM {source} GROUP BY 1"
    return _upsert(d, STACK_LAST_SEEN, select)


def metric_labels_sql(d: Dialect = DUCKDB, cap: int = LABEL_CAP) -> str:
    """Admit new label values per (stack, dim) while fewer than ``cap`` are known."""
    values = " UNION ".join(
        f"SELECT DISTINCT stack_name, '{dim}' AS dim, {dim} AS value FROM staging "
        f"WHERE {dim} IS NOT NULL"
        for dim in CAPPED_DIMS
    )
    select = (
        "SELECT n.stack_name, n.dim, n.value FROM ("
        "SELECT v.stack_name, v.dim, v.value, row_number() OVER "
        "(PARTITION BY v.stack_name, v.dim ORDER BY v.value) AS rn "
        f"FROM ({values}) v WHERE NOT EXISTS (SELECT 1 FROM metric_labels l "
        "WHERE l.stack_name = v.stack_name AND l.dim = v.dim AND l.value = v.value)) n "
        "LEFT JOIN (SELECT stack_name, dim, count(*) AS have FROM metric_labels "
        "GROUP BY stack_name, dim) c ON c.stack_name = n.stack_name AND c.dim = n.dim "
        f"WHERE coalesce(c.have, 0) + n.rn <= {int(cap)}"
    )
    return _upsert(d, METRIC_LABELS, select)


def _label(dim: str) -> str:
    return (
        f"CASE WHEN s.{dim} IS NULL THEN 'unknown' WHEN l_{dim}.value IS NOT NULL "
        f"THEN s.{dim} ELSE 'other' END AS {dim}_l"
    )


def counter_contributions(
    d: Dialect = DUCKDB,
    source: str = "staging",
    *,
    where: str = "",
    with_ts: bool = False,
    families: Collection[str] | None = None,
) -> tuple[str, str]:
    """``(with_clause, union)``: each event's contribution ``v`` to the ``/metrics``
    counter series ``(stack_name, family, l1, l2, l3)`` (and its ``ts`` when
    ``with_ts``), from ``source`` rows (aliased ``s``) passing ``where``.

    The loader folds these over ``staging`` into ``metric_counters``; the Prometheus
    query API replays them over the raw events to rebuild a counter's past values.
    ``families`` restricts the union to those families (``None``: every one).
    """
    success = "CASE success WHEN true THEN 'true' WHEN false THEN 'false' ELSE 'unknown' END"
    tail = ", ts" if with_ts else ""

    def part(family: str, l1: str, l2: str, l3: str, v: str, where: str = "") -> tuple[str, str]:
        # every arm names its columns: a union of chosen families may start anywhere
        cond = f" WHERE {where}" if where else ""
        return family, (
            f"SELECT stack_name, '{family}' AS family, {l1} AS l1, {l2} AS l2, {l3} AS l3, "
            f"{v} AS v{tail} FROM m{cond}"
        )

    parts: list[tuple[str, str]] = [
        part("sessions", "''", "''", "''", "1.0", "event_type = 'session_start'"),
        part("messages", "role_l", "model_l", "agent_l", "1.0", "event_type = 'message'"),
        *(
            part(
                "tokens",
                "model_l",
                f"'{direction}'",
                "''",
                d.cast(column, "float"),
                f"{column} IS NOT NULL",
            )
            for direction, column in TOKEN_DIRECTIONS
        ),
        part("tools", "tool_l", success, "''", "1.0", "event_type = 'tool_use'"),
        part("errors", "''", "''", "''", "1.0", "is_error"),
        part("cost", "model_l", "''", "''", "cost_usd", "cost_usd IS NOT NULL"),
        part(
            "duration_bucket",
            "model_l",
            duration_bucket_case("duration_ms"),
            "''",
            "1.0",
            "event_type = 'llm_call' AND duration_ms IS NOT NULL",
        ),
        part(
            "duration_sum",
            "model_l",
            "''",
            "''",
            "duration_ms / 1000.0",
            "event_type = 'llm_call' AND duration_ms IS NOT NULL",
        ),
        part("unpriced", "model_l", "coalesce(provider, '')", "''", "1.0", "is_unpriced"),
        part("events", "event_type", "''", "''", "1.0"),
    ]
    chosen = [sql for family, sql in parts if families is None or family in families]
    if not chosen:
        raise ValueError("no counter family chosen")
    # Only the label dims the chosen families name are joined: a replay of one family
    # over a week of raw events (the Prometheus API) skips three joins of four.
    dims = [dim for dim in CAPPED_DIMS if any(f"{dim}_l" in sql for sql in chosen)]
    joins = " ".join(
        f"LEFT JOIN metric_labels l_{dim} ON l_{dim}.stack_name = s.stack_name "
        f"AND l_{dim}.dim = '{dim}' AND l_{dim}.value = s.{dim}"
        for dim in dims
    )
    labelled = (
        # Named explicitly: a joined column keeps its qualifier on some backends.
        "SELECT "
        + ", ".join(
            f"s.{c} AS {c}"
            for c in (
                "stack_name",
                "event_type",
                "success",
                "level",
                "cost_usd",
                "duration_ms",
                *TOKEN_COLUMNS,
                "provider",
            )
        )
        + ", "
        + ("s.ts AS ts, " if with_ts else "")
        + "".join(f"{_label(dim)}, " for dim in dims)
        # metric_labels shares only stack_name with staging: the rest is unambiguous.
        + f"{IS_ERROR} AS is_error, {IS_UNPRICED} AS is_unpriced FROM {source} s {joins}"
        + (f" WHERE {where}" if where else "")
    )
    return f"WITH m AS ({labelled})", " UNION ALL ".join(chosen)


#: The load's per-minute counter contributions, which both counter rollups fold.
STAGED_MINUTES: Final = "staged_minutes"
_SERIES: Final = "stack_name, family, l1, l2, l3"


def staged_minutes_sql(d: Dialect = DUCKDB, source: str = "staging", where: str = "") -> list[str]:
    """The counter contributions of ``source`` rows (passing ``where``) summed per
    series and minute, as the temporary table :data:`STAGED_MINUTES`: computed once per
    load, then folded into ``metric_counters`` and ``metric_minutes`` (each from a few
    thousand rows instead of every event's contributions, with their label joins,
    again)."""
    with_clause, union = counter_contributions(d, source, where=where, with_ts=True)
    minute = d.ts_from_ns(d.bucket_ns("ts", str(MINUTE_NS)))
    select = (
        f"{with_clause} SELECT {minute} AS minute, {_SERIES}, sum(v) AS value "
        f"FROM ({union}) u GROUP BY minute, {_SERIES}"
    )
    return d.temp_table_as(STAGED_MINUTES, select)


def metric_counters_sql(d: Dialect = DUCKDB) -> str:
    select = f"SELECT {_SERIES}, sum(value) FROM {STAGED_MINUTES} GROUP BY {_SERIES}"
    return _upsert(d, METRIC_COUNTERS, select)


def metric_minutes_sql(d: Dialect = DUCKDB) -> str:
    return (
        f"INSERT INTO {METRIC_MINUTES.name} (minute, {_SERIES}, value) "
        f"SELECT minute, {_SERIES}, value FROM {STAGED_MINUTES}"
    )


def load_statements(d: Dialect = DUCKDB, *, label_cap: int = LABEL_CAP) -> list[str]:
    """What the loader runs over ``staging`` in its transaction, before the insert.

    The store has already removed retried rows from ``staging`` (see
    :func:`stacklens.store.sql.dedup_staged_sql`), so each event is counted once.
    """
    return [
        usage_hourly_sql(d),
        billing_daily_sql(d),
        session_summaries_sql(d),
        stack_last_seen_sql(d),
        metric_labels_sql(d, label_cap),
        *staged_minutes_sql(d),
        metric_counters_sql(d),
        metric_minutes_sql(d),
    ]
