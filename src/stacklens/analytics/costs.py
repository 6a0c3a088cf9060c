"""Cost and usage from the billing records (``billing_daily``), with projections.

Billing is kept per UTC day, so cost queries cover whole days: from the day holding
``since`` through the day holding ``until`` minus one nanosecond.

Projections (clock injected):

- **daily**: cost so far today / fraction of the UTC day elapsed (the fraction is
  floored at 1/24, so the first minutes of a day do not explode the figure);
- **month-end**: month-to-date cost / days elapsed in the month (fractional, floored
  at 1/24) x days in the month.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from typing import Final

import msgspec

from stacklens.analytics.queries import Filters, Query
from stacklens.analytics.rollups import SESSION_SUMMARIES, TOKEN_COLUMNS
from stacklens.store.dialect import Dialect, Params

__all__ = [
    "ADJUSTMENT_COLUMNS",
    "BILLING_COLUMNS",
    "COST_DIMENSIONS",
    "Projection",
    "adjustment_rows",
    "billing_rows",
    "billing_source",
    "cost_by",
    "cost_in_days",
    "day_range_ns",
    "mixed_models",
    "month_range_ns",
    "priced_cost_in",
    "project",
    "unpriced",
    "user_sessions",
    "windows_within",
]

COST_DIMENSIONS: Final = ("stack_name", "model", "provider", "agent", "user_id", "day")
_MEASURES: Final = ("calls", *TOKEN_COLUMNS, "cost_usd", "unpriced")
BILLING_COLUMNS: Final = (
    "day",
    "stack_name",
    "user_id",
    "model",
    "provider",
    "agent",
    *_MEASURES,
)
DAY_NS: Final = 86_400 * 10**9

_BILLING_KEY: Final = "day, stack_name, user_id, model, provider, agent"
_ZERO_TOKENS: Final = ", ".join("0" for _ in TOKEN_COLUMNS)
#: What depends on a whole billing record, not on a sum of its contributions: a
#: record whose every call is unpriced, a record with an unpriced call. Each holds of
#: a sum of contributions if it holds of every one, and fails if it fails of every one.
_ALL_UNPRICED: Final = "unpriced >= calls"
_ANY_UNPRICED: Final = "unpriced > 0"


def billing_source(d: Dialect, *, per_record: bool = True, mixed: str | None = None) -> str:
    """The billing records with the adjustments of closed months added (no calls, no
    tokens: an adjustment changes cost and the unpriced count only), as cost queries
    read them: a closed month's figures are its originals plus its adjustments.

    Columns: the key, calls, tokens, ``cost_usd``, ``unpriced`` — sums, read from the
    records' contributions without folding them (:meth:`Dialect.rollup_sums_source`)
    — and, with ``per_record``, what depends on whole records: the tokens of records
    whose every call is unpriced (``unpriced_tokens_in``/``_out``) and the day of each
    record or adjustment with an unpriced call (``unpriced_day``). Those come from the
    contributions of every model whose contributions agree on both (then each
    contribution's answer is its record's), and from the folded records of the models
    in ``mixed``: the placeholder of the list :func:`mixed_models` found, or None when
    it found none (the usual case: until a model is both priced and unpriced, or
    repriced) or the dialect folds nothing. Each row adds to each figure once, so sums
    over the union are exact."""
    measures = f"calls, {', '.join(TOKEN_COLUMNS)}, cost_usd, unpriced"
    sums = d.rollup_sums_source("billing_daily")
    adjustments = f"SELECT {_BILLING_KEY}, 0, {_ZERO_TOKENS}, cost_usd, unpriced"
    if not per_record:
        return (
            f"(SELECT {_BILLING_KEY}, {measures} FROM {sums} "
            f"UNION ALL {adjustments} FROM billing_adjustments) billing"
        )

    def per_record_columns(whole: str) -> str:
        tokens = ", ".join(
            f"CASE WHEN {whole}{_ALL_UNPRICED} THEN {c} ELSE 0 END AS unpriced_{c}"
            for c in ("tokens_in", "tokens_out")
        )
        return f"{tokens}, CASE WHEN {whole}{_ANY_UNPRICED} THEN day END AS unpriced_day"

    folded = None if mixed is None else d.in_list("model", mixed)
    whole = "" if folded is None else f"(NOT {folded}) AND "
    branches = [
        f"SELECT {_BILLING_KEY}, {measures}, {per_record_columns(whole)} FROM {sums}",
        f"{adjustments}, 0, 0, CASE WHEN {_ANY_UNPRICED} THEN day END FROM billing_adjustments",
    ]
    if folded is not None:
        branches.insert(
            1,
            f"SELECT {_BILLING_KEY}, 0, {_ZERO_TOKENS}, 0, 0, {per_record_columns('')} "
            f"FROM billing_daily WHERE {folded}",
        )
    return f"({' UNION ALL '.join(branches)}) billing"


def mixed_models(d: Dialect, f: Filters) -> Query | None:
    """The statement finding the models whose billing contributions, within ``f``,
    disagree on being wholly or partly unpriced (rows: ``model``), whose records
    :func:`billing_source` must fold; None when the dialect folds nothing. A
    statement of its own, run before the read it serves: one scan of the window's
    contributions, and an empty answer lets the read skip folding altogether."""
    p = Params(d)
    statement = d.rollup_disagreeing(
        "billing_daily", ("model",), (_ALL_UNPRICED, _ANY_UNPRICED), where=_where(d, p, f)
    )
    return None if statement is None else (statement, p.values)


def _mixed(p: Params, mixed: Sequence[str]) -> str | None:
    return p("mixed", list(mixed), "str_list") if mixed else None


#: Cost of rows of which every call is unpriced is NULL, never $0: unpriced is not free
#: (the rollup's merge turns a NULL cost into 0, so the unpriced count decides).
_PRICED_COST: Final = (
    "CASE WHEN coalesce(sum(calls), 0) > 0 AND coalesce(sum(unpriced), 0) >= sum(calls) "
    "THEN NULL ELSE coalesce(sum(cost_usd), 0) END"
)


#: Tokens of billing records whose every call is unpriced, reported apart from the
#: priced ones (a record mixing client-costed and unpriced calls counts as priced).
_UNPRICED_TOKENS: Final = tuple(
    f"coalesce(sum(unpriced_{c}), 0) AS unpriced_{c}" for c in ("tokens_in", "tokens_out")
)


def _sums(*, per_record: bool = True) -> str:
    return ", ".join(
        [
            f"{_PRICED_COST} AS {m}" if m == "cost_usd" else f"coalesce(sum({m}), 0) AS {m}"
            for m in _MEASURES
        ]
        + (list(_UNPRICED_TOKENS) if per_record else [])
    )


def _where(d: Dialect, p: Params, f: Filters) -> str:
    parts = [
        f"day >= {d.date_from_ns(p('since', f.since_ns, 'ts_ns'))}",
        f"day <= {d.date_from_ns(p('last', f.until_ns - 1, 'ts_ns'))}",
    ]
    if f.stacks is not None:
        parts.append(d.in_list("stack_name", p("stacks", f.stacks, "str_list")))
    for field, column in (("model", "model"), ("agent", "agent"), ("user", "user_id")):
        value = getattr(f, field)
        if value is not None:
            parts.append(f"{column} = {p(field, value)}")
    return " AND ".join(parts)


def cost_by(
    d: Dialect,
    f: Filters,
    dim: str,
    *,
    mixed: Sequence[str],
    limit: int = 1000,
    with_total: bool = False,
    windows: Sequence[tuple[int, int]] = (),
) -> Query:
    """Calls, tokens, cost and unpriced calls per value of ``dim`` (``day`` in date
    order, others by cost, largest first). ``mixed``: what :func:`mixed_models` found
    for ``f`` (nothing when it is None).

    ``with_total``: the window's totals too (what :func:`cost_in_days` gives), as a
    first row with ``total_row`` 1 (every other row: 0), from the same read of the
    records (``GROUPING SETS``), so the costs page reads them once.

    ``windows``: :func:`priced_cost_in`'s columns ``w0``, ``w1``.. too, from the same
    read (every row has them; the totals row's are the windows' figures). Only for
    windows whose days lie within ``f``'s (:func:`windows_within`)."""
    if dim not in COST_DIMENSIONS:
        raise ValueError(f"unknown cost dimension {dim!r}")
    if windows and not windows_within(f, windows):
        raise ValueError("the windows reach outside the read's days")
    p = Params(d)
    key = d.date_to_text("day") if dim == "day" else f"nullif({dim}, '')"
    order = "1" if dim == "day" else "cost_usd DESC, calls DESC, 1"
    total = f", grouping({dim}) AS total_row" if with_total else ""
    group = f"GROUPING SETS (({dim}), ())" if with_total else "1"
    first = "total_row DESC, " if with_total else ""
    # Ordered outside the aggregate: an ORDER BY naming an output alias that is also
    # a column (cost_usd) means the alias in SQL, the column on some backends.
    where = _where(d, p, f)
    extra = f", {_window_costs(d, p, windows)}" if windows else ""
    sql = (
        f"SELECT * FROM (SELECT {key} AS {dim}{total}, {_sums()}{extra} "
        f"FROM {billing_source(d, mixed=_mixed(p, mixed))} WHERE {where} GROUP BY {group}) "
        "AS by_dim "
        f"ORDER BY {first}{order} LIMIT {p('limit', int(limit) + int(with_total), 'int')}"
    )
    return sql, p.values


def priced_cost_in(d: Dialect, f: Filters, windows: Sequence[tuple[int, int]]) -> Query:
    """One row: the cost (``w0``, ``w1``, ...) over the days of each ``[since,
    until)`` window, with ``f``'s other filters, in one read of the records (NULL: a
    window whose every call is unpriced, as :func:`cost_in_days` says it)."""
    if not windows:
        raise ValueError("priced_cost_in needs a window")
    p = Params(d)
    span = msgspec.structs.replace(
        f, since_ns=min(w[0] for w in windows), until_ns=max(w[1] for w in windows)
    )
    source = billing_source(d, per_record=False)
    cols = _window_costs(d, p, windows)
    return f"SELECT {cols} FROM {source} WHERE {_where(d, p, span)}", p.values


def _window_costs(d: Dialect, p: Params, windows: Sequence[tuple[int, int]]) -> str:
    cols = []
    for i, (since_ns, until_ns) in enumerate(windows):
        inside = (
            f"day >= {d.date_from_ns(p(f'since{i}', since_ns, 'ts_ns'))} AND "
            f"day <= {d.date_from_ns(p(f'last{i}', until_ns - 1, 'ts_ns'))}"
        )
        calls, unpriced = d.sum_if("calls", inside), d.sum_if("unpriced", inside)
        cols.append(
            f"CASE WHEN {calls} > 0 AND {unpriced} >= {calls} THEN NULL "
            f"ELSE {d.sum_if('cost_usd', inside)} END AS w{i}"
        )
    return ", ".join(cols)


def windows_within(f: Filters, windows: Sequence[tuple[int, int]]) -> bool:
    """Whether every window's days lie within ``f``'s days: then a read over ``f``
    can give :func:`priced_cost_in`'s figures too (``cost_by(windows=...)``)."""
    first, last = f.since_ns // DAY_NS, (f.until_ns - 1) // DAY_NS
    return all(
        first <= since // DAY_NS and (until - 1) // DAY_NS <= last for since, until in windows
    )


def cost_in_days(d: Dialect, f: Filters) -> Query:
    """One row of totals over the window's days: calls, tokens, cost and unpriced
    calls (not ``unpriced_tokens_*``: :func:`cost_by` ``with_total`` has them, which
    needs records folded)."""
    p = Params(d)
    source = billing_source(d, per_record=False)
    return f"SELECT {_sums(per_record=False)} FROM {source} WHERE {_where(d, p, f)}", p.values


def unpriced(d: Dialect, f: Filters, *, mixed: Sequence[str]) -> Query:
    """Models seen with tokens but no known price: rows (provider, model, calls).
    ``mixed``: what :func:`mixed_models` found for ``f``."""
    p = Params(d)
    where = _where(d, p, f)
    sql = (
        "SELECT * FROM (SELECT nullif(provider, '') AS provider, model, "
        "sum(unpriced) AS events, "
        f"{d.date_to_text('max(unpriced_day)')} AS last_day "
        f"FROM {billing_source(d, mixed=_mixed(p, mixed))} WHERE {where} GROUP BY 1, 2 "
        "HAVING sum(unpriced) > 0) AS models ORDER BY events DESC, 2"
    )
    return sql, p.values


def user_sessions(d: Dialect, f: Filters) -> Query:
    """Rows (user_id, sessions) of sessions overlapping the window."""
    p = Params(d)
    parts = [
        f"first_ts < {d.ts_from_ns(p('until', f.until_ns, 'ts_ns'))}",
        f"last_ts >= {d.ts_from_ns(p('since', f.since_ns, 'ts_ns'))}",
        "user_id IS NOT NULL",
    ]
    if f.stacks is not None:
        parts.append(d.in_list("stack_name", p("stacks", f.stacks, "str_list")))
    if f.user is not None:
        parts.append(f"user_id = {p('user', f.user)}")
    # Sessions with one contribution are read as they are; only the others are
    # folded (on DuckDB every row is a folded session and the second branch is empty).
    table = SESSION_SUMMARIES.name
    single = d.rollup_single(table, SESSION_SUMMARIES.key)
    columns = "stack_name, user_id, first_ts, last_ts"
    sessions = (
        f"SELECT {columns} FROM {d.rollup_sums_source(table)} WHERE {single} "
        f"UNION ALL SELECT {columns} FROM {table} WHERE NOT ({single})"
    )
    sql = (
        f"SELECT user_id, count(*) AS sessions FROM ({sessions}) AS sessions "
        f"WHERE {' AND '.join(parts)} GROUP BY 1"
    )
    return sql, p.values


def billing_rows(
    d: Dialect,
    since_ns: int,
    until_ns: int,
    stacks: tuple[str, ...] | None = None,
    user: str | None = None,
) -> Query:
    """Every billing record of the days in [since, until), in a stable order."""
    f = Filters(since_ns=since_ns, until_ns=until_ns, stacks=stacks, user=user)
    p = Params(d)
    cols = ", ".join(
        f"{d.date_to_text('day')} AS day"
        if c == "day"
        else "CASE WHEN calls > unpriced THEN cost_usd END AS cost_usd"
        if c == "cost_usd"
        else c
        for c in BILLING_COLUMNS
    )
    sql = (
        f"SELECT {cols} FROM billing_daily WHERE {_where(d, p, f)} "
        "ORDER BY day, stack_name, user_id, model, provider, agent"
    )
    return sql, p.values


ADJUSTMENT_COLUMNS: Final = (
    "day", "stack_name", "user_id", "model", "provider", "agent",
    "cost_usd", "unpriced", "reason", "recorded_at",
)  # fmt: skip


def adjustment_rows(
    d: Dialect, since_ns: int, until_ns: int, stacks: tuple[str, ...] | None = None
) -> Query:
    """The billing adjustments of the days in [since, until), oldest first."""
    f = Filters(since_ns=since_ns, until_ns=until_ns, stacks=stacks)
    p = Params(d)
    cols = ", ".join(
        f"{d.date_to_text('day')} AS day"
        if c == "day"
        else f"{d.ts_to_ns('recorded_at')} AS recorded_ns"
        if c == "recorded_at"
        else c
        for c in ADJUSTMENT_COLUMNS
    )
    sql = (
        f"SELECT {cols} FROM billing_adjustments WHERE {_where(d, p, f)} "
        f"ORDER BY recorded_at, {_BILLING_KEY}"
    )
    return sql, p.values


def day_range_ns(now_ns: int) -> tuple[int, int]:
    """[start, end) of the UTC day holding ``now_ns``."""
    start = now_ns - now_ns % DAY_NS
    return start, start + DAY_NS


def month_range_ns(year: int, month: int) -> tuple[int, int]:
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.UTC)
    return int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9


class Projection(msgspec.Struct, frozen=True):
    today_usd: float
    daily_projection_usd: float
    month_to_date_usd: float
    month_end_projection_usd: float
    day_fraction_elapsed: float
    month_days_elapsed: float
    days_in_month: int


def project(now_ns: int, today_usd: float, month_to_date_usd: float) -> Projection:
    """Daily and month-end projections from today's and the month's cost so far."""
    day_start, _ = day_range_ns(now_ns)
    fraction = max((now_ns - day_start) / DAY_NS, 1 / 24)
    moment = dt.datetime.fromtimestamp(now_ns // 10**9, tz=dt.UTC)
    month_start, _ = month_range_ns(moment.year, moment.month)
    days = calendar.monthrange(moment.year, moment.month)[1]
    elapsed = max((now_ns - month_start) / DAY_NS, 1 / 24)
    return Projection(
        today_usd=today_usd,
        daily_projection_usd=today_usd / fraction,
        month_to_date_usd=month_to_date_usd,
        month_end_projection_usd=month_to_date_usd / elapsed * days,
        day_fraction_elapsed=fraction,
        month_days_elapsed=elapsed,
        days_in_month=days,
    )
