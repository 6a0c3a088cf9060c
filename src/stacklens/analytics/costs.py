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
from typing import Final

import msgspec

from stacklens.analytics.queries import Filters, Query
from stacklens.analytics.rollups import TOKEN_COLUMNS
from stacklens.store.dialect import Dialect, Params

__all__ = [
    "ADJUSTMENT_COLUMNS",
    "BILLING_COLUMNS",
    "BILLING_SOURCE",
    "COST_DIMENSIONS",
    "Projection",
    "adjustment_rows",
    "billing_rows",
    "cost_by",
    "cost_in_days",
    "day_range_ns",
    "month_range_ns",
    "project",
    "unpriced",
    "user_sessions",
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
#: The billing records with the adjustments of closed months added (no calls, no
#: tokens: an adjustment changes cost and the unpriced count only), as cost queries
#: read them: a closed month's figures are its originals plus its adjustments.
BILLING_SOURCE: Final = (
    f"(SELECT {_BILLING_KEY}, calls, {', '.join(TOKEN_COLUMNS)}, cost_usd, unpriced "
    f"FROM billing_daily UNION ALL SELECT {_BILLING_KEY}, 0, "
    + ", ".join("0" for _ in TOKEN_COLUMNS)
    + ", cost_usd, unpriced FROM billing_adjustments) billing"
)


#: Cost of rows of which every call is unpriced is NULL, never $0: unpriced is not free
#: (the rollup's merge turns a NULL cost into 0, so the unpriced count decides).
_PRICED_COST: Final = (
    "CASE WHEN coalesce(sum(calls), 0) > 0 AND coalesce(sum(unpriced), 0) >= sum(calls) "
    "THEN NULL ELSE coalesce(sum(cost_usd), 0) END"
)


#: Tokens of billing records whose every call is unpriced, reported apart from the
#: priced ones (a record mixing client-costed and unpriced calls counts as priced).
_UNPRICED_TOKENS: Final = tuple(
    f"coalesce(sum(CASE WHEN unpriced >= calls THEN {c} ELSE 0 END), 0) AS unpriced_{c}"
    for c in ("tokens_in", "tokens_out")
)


def _sums() -> str:
    return ", ".join(
        [
            f"{_PRICED_COST} AS {m}" if m == "cost_usd" else f"coalesce(sum({m}), 0) AS {m}"
            for m in _MEASURES
        ]
        + list(_UNPRICED_TOKENS)
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


def cost_by(d: Dialect, f: Filters, dim: str, *, limit: int = 1000) -> Query:
    """Calls, tokens, cost and unpriced calls per value of ``dim`` (``day`` in date
    order, others by cost, largest first)."""
    if dim not in COST_DIMENSIONS:
        raise ValueError(f"unknown cost dimension {dim!r}")
    p = Params(d)
    key = d.date_to_text("day") if dim == "day" else f"nullif({dim}, '')"
    order = "1" if dim == "day" else "cost_usd DESC, calls DESC, 1"
    # Ordered outside the aggregate: an ORDER BY naming an output alias that is also
    # a column (cost_usd) means the alias in SQL, the column on some backends.
    sql = (
        f"SELECT * FROM (SELECT {key} AS {dim}, {_sums()} FROM {BILLING_SOURCE} "
        f"WHERE {_where(d, p, f)} GROUP BY 1) AS by_dim "
        f"ORDER BY {order} LIMIT {p('limit', int(limit), 'int')}"
    )
    return sql, p.values


def cost_in_days(d: Dialect, f: Filters) -> Query:
    """One row of totals over the window's days."""
    p = Params(d)
    return f"SELECT {_sums()} FROM {BILLING_SOURCE} WHERE {_where(d, p, f)}", p.values


def unpriced(d: Dialect, f: Filters) -> Query:
    """Models seen with tokens but no known price: rows (provider, model, calls)."""
    p = Params(d)
    sql = (
        "SELECT * FROM (SELECT nullif(provider, '') AS provider, model, "
        "sum(unpriced) AS events, "
        f"{d.date_to_text(d.agg_if('max', 'day', 'unpriced > 0'))} AS last_day "
        f"FROM {BILLING_SOURCE} WHERE {_where(d, p, f)} GROUP BY 1, 2 "
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
    sql = (
        "SELECT user_id, count(*) AS sessions FROM session_summaries "
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
