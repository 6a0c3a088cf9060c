"""The signal catalog: what a rule's condition can measure, and its SQL.

A condition is a signal over a window, grouped ``by`` dimensions, narrowed by
``where`` filters and compared with a threshold. :func:`build_query` turns one
condition into **one** parameterized SQL statement over the ``events`` table (or the
``metric_points`` table of OTel metric points), however many series it fans out to:
the comparison runs inside the query, so only the series that cross come back.

Identifiers come from allow-lists only; every value (filters, thresholds, the window,
attribute keys) is a bound parameter. The SQL is written over a
:class:`~stacklens.store.dialect.Dialect` (the evaluating store's ``reader.dialect``;
DuckDB by default), so a second backend evaluates the same catalog.

*Error* means what ``opencode_errors_total`` counts: an event of type ``error``, or an
``llm_call``/``tool_use`` event with ``success = false``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from stacklens.alerting.durations import parse_duration
from stacklens.analytics.heartbeats import DEFAULT_POLICY, HeartbeatPolicy, regular_heartbeats_sql
from stacklens.store.dialect import DUCKDB, Dialect, Params

__all__ = [
    "COMPARISONS",
    "ERROR_PREDICATE",
    "EVENT_DIMENSIONS",
    "FILTER_OPS",
    "METRIC_DIMENSIONS",
    "SIGNALS",
    "Condition",
    "Filter",
    "Signal",
    "SignalError",
    "build_query",
    "compare",
    "dimension_label",
    "heartbeat_policy",
    "validate_condition",
]

COMPARISONS: Final = (">", ">=", "<", "<=", "==", "!=")
FILTER_OPS: Final = ("=", "!=", "=~", "!~", "in", "not_in")

#: Typed columns of ``events`` a rule may group or filter by.
EVENT_DIMENSIONS: Final = (
    "stack_name",
    "session_id",
    "user_id",
    "service",
    "event_type",
    "level",
    "role",
    "model",
    "provider",
    "agent",
    "tool",
    "error_code",
    "method",
    "path",
    "status_code",
    "success",
)
#: Typed columns of ``metric_points`` a rule may group or filter by.
METRIC_DIMENSIONS: Final = ("stack_name", "service", "name", "kind", "unit")
_ATTRIBUTE_KEY = re.compile(r"attributes\.([A-Za-z0-9_][A-Za-z0-9_.\-]{0,127})")

ERROR_PREDICATE: Final = (
    "(event_type = 'error' OR (event_type IN ('llm_call', 'tool_use') AND success = false))"
)
_TOKEN_COLUMNS: Final = {
    "input": "tokens_in",
    "output": "tokens_out",
    "cache_read": "tokens_cache_read",
    "cache_write": "tokens_cache_write",
    "reasoning": "tokens_reasoning",
}
#: ``metric_value``'s aggregates over a metric's points ("last": the newest value).
_AGGREGATES: Final = ("last", "max", "min", "avg", "sum")
_LATENCY_TYPES: Final = ("llm_call", "tool_use", "http_request", "span")
#: Parameters of the regular-heartbeat test (stacklens.analytics.heartbeats).
_HEARTBEAT_PARAMS: Final[Mapping[str, tuple[bool, tuple[str, ...] | None]]] = {
    "min_heartbeats": (False, None),
    "min_interval": (False, None),
    "max_interval": (False, None),
    "jitter": (False, None),
}


class SignalError(ValueError):
    """A condition the catalog cannot evaluate; the message says why."""


@dataclass(frozen=True)
class Filter:
    dimension: str
    op: str  # one of FILTER_OPS
    value: str | tuple[str, ...]


@dataclass(frozen=True)
class Condition:
    signal: str
    window_ns: int
    op: str
    threshold: float
    by: tuple[str, ...] = ()
    where: tuple[Filter, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Signal:
    name: str
    table: str  # "events" or "metric_points"
    unit: str
    description: str
    #: parameter name → (required, allowed values or None for free-form)
    params: Mapping[str, tuple[bool, tuple[str, ...] | None]] = field(default_factory=dict)
    #: value computed in Python after the query (``stack_up`` merges probe results)
    post: bool = False


def _s(name: str, unit: str, description: str, table: str = "events", **kw: Any) -> Signal:
    return Signal(name, table, unit, description, **kw)


SIGNALS: Final[Mapping[str, Signal]] = {
    s.name: s
    for s in (
        _s("event_count", "events", "Events in the window."),
        _s("event_rate", "events/s", "Events per second over the window."),
        _s("error_count", "errors", "Errors in the window (see module doc)."),
        _s("error_rate", "errors/s", "Errors per second; seed HighErrorRate's rate()."),
        _s("error_ratio", "ratio", "Errors per llm_call/tool_use event (0.01 = 1%)."),
        _s("tool_error_ratio", "ratio", "Failed tool_use events / all tool_use events."),
        _s(
            "tokens",
            "tokens",
            "Tokens in the window.",
            params={"direction": (False, (*_TOKEN_COLUMNS, "total"))},
        ),
        _s("cost", "USD", "Spend (cost_usd) in the window."),
        _s(
            "budget_utilization",
            "ratio",
            "Spend in the window / budget_usd (1 = all of it).",
            params={"budget_usd": (True, None)},
        ),
        _s(
            "latency_quantile",
            "seconds",
            "Quantile of duration_ms (as seconds).",
            params={"quantile": (True, None), "event_type": (False, _LATENCY_TYPES)},
        ),
        _s(
            "last_seen_age",
            "seconds",
            "Seconds since the newest event in the lookback window; with min_heartbeats, "
            "only for series that have shown a regular heartbeat.",
            params=_HEARTBEAT_PARAMS,
        ),
        _s(
            "stack_up",
            "bool",
            "1 when the stack sent an event within heartbeat_timeout and its "
            "health probe (if any) passes, else 0; judged only for stacks with a "
            "regular heartbeat or a registered health probe.",
            params={"heartbeat_timeout": (False, None), **_HEARTBEAT_PARAMS},
            post=True,
        ),
        _s("cache_hit_ratio", "ratio", "tokens_cache_read / (tokens_in + tokens_cache_read)."),
        _s("active_sessions", "sessions", "Distinct sessions with an event in the window."),
        _s(
            "metric_value",
            "metric",
            "An OTel metric point value (GPU, drift, queue depth...).",
            table="metric_points",
            params={
                "metric": (True, None),
                "aggregate": (False, _AGGREGATES),
                "divide_by": (False, None),
            },
        ),
    )
}


def dimension_label(dimension: str) -> str:
    """The alert label a ``by`` dimension becomes (``attributes.gpu.id`` → ``gpu_id``)."""
    match = _ATTRIBUTE_KEY.fullmatch(dimension)
    key = match.group(1) if match else dimension
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


def _dimension_sql(dimension: str, table: str, p: Params) -> str:
    columns = EVENT_DIMENSIONS if table == "events" else METRIC_DIMENSIONS
    d = p.dialect
    if dimension in columns:
        if dimension in ("status_code", "success"):
            return d.cast(dimension, "string")
        return dimension
    match = _ATTRIBUTE_KEY.fullmatch(dimension)
    if match:
        key = p(f"k{len(p.values)}", d.json_key(match.group(1)))
        return d.json_text_at("attributes", key)
    raise SignalError(
        f"unknown dimension {dimension!r} for {table}: use one of {', '.join(columns)} "
        "or attributes.KEY"
    )


def validate_condition(condition: Condition) -> None:
    """Raise :class:`SignalError` when the catalog cannot evaluate ``condition``."""
    signal = SIGNALS.get(condition.signal)
    if signal is None:
        raise SignalError(f"unknown signal {condition.signal!r}: one of {', '.join(SIGNALS)}")
    if condition.op not in COMPARISONS:
        raise SignalError(f"unknown comparison {condition.op!r}: one of {' '.join(COMPARISONS)}")
    if condition.window_ns <= 0:
        raise SignalError("window must be longer than 0s")
    for name, value in condition.params.items():
        if name not in signal.params:
            allowed = ", ".join(signal.params) or "none"
            raise SignalError(f"signal {signal.name} takes no parameter {name!r} (takes {allowed})")
        choices = signal.params[name][1]
        if choices is not None and value not in choices:
            raise SignalError(f"{name} must be one of {', '.join(choices)}")
    for name, (required, _) in signal.params.items():
        if required and name not in condition.params:
            raise SignalError(f"signal {signal.name} needs parameter {name!r}")
    if "quantile" in condition.params:
        q = condition.params["quantile"]
        if not isinstance(q, int | float) or not 0 < q < 1:
            raise SignalError("quantile must be a number between 0 and 1 (e.g. 0.95)")
    if "heartbeat_timeout" in condition.params:
        try:
            parse_duration(str(condition.params["heartbeat_timeout"]))
        except ValueError as exc:
            raise SignalError(f"heartbeat_timeout: {exc}") from None
    if any(name in condition.params for name in _HEARTBEAT_PARAMS):
        try:
            heartbeat_policy(condition)
        except (TypeError, ValueError) as exc:
            raise SignalError(f"heartbeat parameters: {exc}") from None
    if "budget_usd" in condition.params:
        budget = condition.params["budget_usd"]
        if not isinstance(budget, int | float) or budget <= 0:
            raise SignalError("budget_usd must be a positive number")
    if signal.post and condition.by != ("stack_name",):
        raise SignalError(f"signal {signal.name} is per stack: use by: [stack_name]")
    scratch = Params(DUCKDB)
    for dimension in condition.by:
        _dimension_sql(dimension, signal.table, scratch)
    labels = [dimension_label(d) for d in condition.by]
    if len(set(labels)) != len(labels):
        raise SignalError("two `by` dimensions map to the same label name")
    for item in condition.where:
        _dimension_sql(item.dimension, signal.table, scratch)
        if item.op not in FILTER_OPS:
            raise SignalError(f"unknown filter operator {item.op!r}")
        if item.op in ("=~", "!~"):
            try:
                re.compile(str(item.value))
            except re.error as exc:
                raise SignalError(f"bad regex for {item.dimension}: {exc}") from None


def heartbeat_policy(condition: Condition) -> HeartbeatPolicy | None:
    """The regular-heartbeat test a condition asks for: always for ``stack_up``, for
    ``last_seen_age`` when it sets ``min_heartbeats``; ``None`` when not judged by it."""
    params = condition.params
    if condition.signal != "stack_up" and "min_heartbeats" not in params:
        return None
    count = params.get("min_heartbeats", DEFAULT_POLICY.min_heartbeats)
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError("min_heartbeats must be a whole number")
    jitter = params.get("jitter", DEFAULT_POLICY.jitter)
    if isinstance(jitter, bool) or not isinstance(jitter, int | float):
        raise ValueError("jitter must be a number")

    def interval(name: str, default: int) -> int:
        return parse_duration(str(params[name])) if name in params else default

    return HeartbeatPolicy(
        min_heartbeats=count,
        min_interval_ns=interval("min_interval", DEFAULT_POLICY.min_interval_ns),
        max_interval_ns=interval("max_interval", DEFAULT_POLICY.max_interval_ns),
        jitter=float(jitter),
    )


def _heartbeat_join(
    inner: str, dims: list[str], where: list[str], policy: HeartbeatPolicy, p: Params
) -> tuple[str, str]:
    """``(FROM clause, regular expression)``: the series of ``inner`` beside whether each
    has shown a regular heartbeat (same window and filters)."""
    beats = regular_heartbeats_sql(p.dialect, p, dims, where, policy)
    on = " AND ".join(f"e.d{i} IS NOT DISTINCT FROM h.d{i}" for i in range(len(dims))) or "true"
    return f"({inner}) e LEFT JOIN ({beats}) h ON {on}", "coalesce(h.regular, false)"


def _where_sql(condition: Condition, table: str, p: Params) -> list[str]:
    d = p.dialect
    clauses = []
    for item in condition.where:
        column = _dimension_sql(item.dimension, table, p)
        name = f"f{len(p.values)}"
        if item.op in ("in", "not_in"):
            values = item.value if isinstance(item.value, tuple) else (item.value,)
            negate = "NOT " if item.op == "not_in" else ""
            clauses.append(f"{negate}{d.in_list(column, p(name, values, 'str_list'))}")
        elif item.op in ("=~", "!~"):
            negate = "NOT " if item.op == "!~" else ""
            # Prometheus-style: anchored; a missing value matches as "".
            pattern = p(name, item.value)
            matched = d.regex_full_match(f"coalesce({column}, '')", pattern)
            clauses.append(f"{negate}{matched}")
        elif item.op == "=":
            clauses.append(f"coalesce({column}, '') = {p(name, item.value)}")
        else:
            clauses.append(f"coalesce({column}, '') != {p(name, item.value)}")
    return clauses


def _ratio(d: Dialect, numerator: str, denominator: str) -> str:
    return (
        f"CASE WHEN ({denominator}) > 0 THEN {d.cast(f'({numerator})', 'float')} "
        f"/ ({denominator}) END"
    )


def _metric_aggregate(d: Dialect, aggregate: str, cond: str | None = None) -> str:
    if aggregate == "last":
        return _last_value(d, cond)
    return f"{aggregate}(value)" if cond is None else d.agg_if(aggregate, "value", cond)


def _last_value(d: Dialect, cond: str | None) -> str:
    """The newest value, or none when the newest point is a stale marker (a series
    Prometheus saw disappear, remote-written as kind ``stale``): as in Prometheus, a
    series that ended does not keep its last value for the rest of the window."""
    live = "value IS NOT NULL" if cond is None else f"{cond} AND value IS NOT NULL"
    stale = "kind = 'stale'" if cond is None else f"{cond} AND kind = 'stale'"
    ended = f"{d.agg_if('max', 'ts', stale)} >= {d.agg_if('max', 'ts', live)}"
    return f"CASE WHEN {ended} THEN NULL ELSE {d.arg_max('value', 'ts', live)} END"


def _value_sql(condition: Condition, p: Params, now: str) -> tuple[str, list[str]]:
    """The aggregate expression of the signal and any extra WHERE clauses it needs
    (``now``: the evaluation time, a timestamp expression)."""
    d = p.dialect
    name = condition.signal
    window_s = condition.window_ns / 1e9
    errors = d.count_if(ERROR_PREDICATE)
    if name == "event_count":
        return "count(*)", []
    if name == "event_rate":
        return f"count(*) / {p('window_s', window_s, 'float')}", []
    if name == "error_count":
        return errors, []
    if name == "error_rate":
        return f"{errors} / {p('window_s', window_s, 'float')}", []
    if name == "error_ratio":
        calls = d.count_if("event_type IN ('llm_call', 'tool_use')")
        return _ratio(d, errors, calls), []
    if name == "tool_error_ratio":
        return _ratio(d, d.count_if("success = false"), "count(*)"), ["event_type = 'tool_use'"]
    if name == "tokens":
        direction = condition.params.get("direction", "total")
        columns = (
            list(_TOKEN_COLUMNS.values()) if direction == "total" else [_TOKEN_COLUMNS[direction]]
        )
        total = " + ".join(f"coalesce(sum({c}), 0)" for c in columns)
        return total, []
    if name == "cost":
        return "coalesce(sum(cost_usd), 0)", []
    if name == "budget_utilization":
        budget = p("budget", float(condition.params["budget_usd"]), "float")
        return f"coalesce(sum(cost_usd), 0) / {budget}", []
    if name == "latency_quantile":
        # The quantile is a literal (a checked number): ClickHouse's quantileExact(q)
        # takes no parameter there.
        quantile = d.quantile("duration_ms", float(condition.params["quantile"]))
        latency_type = p("latency_type", condition.params.get("event_type", "llm_call"))
        return f"{quantile} / 1000.0", [
            f"event_type = {latency_type}",
            "duration_ms IS NOT NULL",
        ]
    if name in ("last_seen_age", "stack_up"):
        return f"{d.ts_to_ms(now)} / 1000.0 - {d.ts_to_ms('max(ts)')} / 1000.0", []
    if name == "cache_hit_ratio":
        read = "coalesce(sum(tokens_cache_read), 0)"
        return _ratio(d, read, f"coalesce(sum(tokens_in), 0) + {read}"), []
    if name == "active_sessions":
        return "count(DISTINCT session_id)", ["session_id IS NOT NULL"]
    if name == "metric_value":
        aggregate = condition.params.get("aggregate", "last")
        metric = p("metric", condition.params["metric"])
        divisor = condition.params.get("divide_by")
        # Stale markers (no value) are read only to end a series (see _last_value).
        valued = "(value IS NOT NULL OR kind = 'stale')"
        if divisor is None:
            return _metric_aggregate(d, aggregate), [f"name = {metric}", valued]
        by = p("divisor", divisor)
        top = _metric_aggregate(d, aggregate, f"name = {metric}")
        bottom = _metric_aggregate(d, aggregate, f"name = {by}")
        return _ratio(d, top, bottom), [f"name IN ({metric}, {by})", valued]
    raise SignalError(f"unknown signal {name!r}")


def build_query(
    condition: Condition, now_ns: int, *, dialect: Dialect = DUCKDB
) -> tuple[str, dict[str, Any]]:
    """One ``SELECT d0, d1, ..., value`` returning the series that satisfy the
    condition (all series, uncompared, for ``post`` signals), in ``dialect``."""
    validate_condition(condition)
    signal = SIGNALS[condition.signal]
    d = dialect
    p = Params(d)
    since = d.ts_from_ns(p("since_ns", now_ns - condition.window_ns, "ts_ns"))
    now = d.ts_from_ns(p("now_ns", now_ns, "ts_ns"))
    dims = [_dimension_sql(dim, signal.table, p) for dim in condition.by]
    value, extra = _value_sql(condition, p, now)
    where = [
        f"ts > {since}",
        f"ts <= {now}",
        *extra,
        *_where_sql(condition, signal.table, p),
    ]
    select = ", ".join([*(f"{dim} AS d{i}" for i, dim in enumerate(dims)), f"{value} AS value"])
    group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(dims)))}" if dims else ""
    inner = f"SELECT {select} FROM {signal.table} WHERE {' AND '.join(where)}{group}"
    policy = heartbeat_policy(condition)
    if policy is not None:
        # Judge only series with a regular heartbeat: stack_up gets the flag as a third
        # column (probes are merged in Python), last_seen_age drops the others.
        source, regular = _heartbeat_join(inner, dims, where, policy, p)
        columns = ", ".join(f"e.d{i}" for i in range(len(dims)))
        if signal.post:
            return f"SELECT {columns}, e.value, {regular} AS regular FROM {source}", p.values
        inner = f"SELECT {columns + ', ' if columns else ''}e.value FROM {source} WHERE {regular}"
    if signal.post:
        return inner, p.values
    threshold = p("threshold", float(condition.threshold), "float")
    op = "=" if condition.op == "==" else condition.op
    return (
        f"SELECT * FROM ({inner}) AS series WHERE value IS NOT NULL AND value {op} {threshold}",
        p.values,
    )


def compare(value: float, op: str, threshold: float) -> bool:
    """The comparison, in Python (for ``post`` signals)."""
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
        "==": value == threshold,
        "!=": value != threshold,
    }[op]
