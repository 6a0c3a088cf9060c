"""Budgets per stack: a monthly limit in USD and/or tokens, with utilization.

Budgets are configuration, so they live in the metadata database (table ``budgets``,
created by the metadata migrations). Usage comes
from the billing records: month-to-date cost, and tokens = ``tokens_in + tokens_out``
(cache reads are part of ``tokens_in``). ``status`` is ``ok`` below 80 % of a limit,
``warning`` from 80 %, ``exceeded`` from 100 % (the worse of the two limits).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import msgspec
import sqlalchemy as sa

from stacklens.analytics.costs import project
from stacklens.metadata.tables import metadata
from stacklens.metadata.upsert import upsert
from stacklens.schema import STACK_NAME_RE

__all__ = [
    "WARNING_RATIO",
    "Budget",
    "BudgetStore",
    "MonthUsage",
    "budget_report",
    "budgets_table",
    "utilization",
]

WARNING_RATIO: Final = 0.8

budgets_table = sa.Table(
    "budgets",
    metadata,
    sa.Column("stack_name", sa.String(63), primary_key=True),
    sa.Column("monthly_usd", sa.Float, nullable=True),
    sa.Column("monthly_tokens", sa.BigInteger, nullable=True),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
)


class Budget(msgspec.Struct, frozen=True):
    stack_name: str
    monthly_usd: float | None = None
    monthly_tokens: int | None = None
    updated_ns: int = 0


class BudgetStore:
    def __init__(self, engine: sa.engine.Engine, *, clock: Callable[[], int]) -> None:
        self._engine = engine
        self._clock = clock

    def set(self, stack: str, *, monthly_usd: float | None, monthly_tokens: int | None) -> Budget:
        if not STACK_NAME_RE.fullmatch(stack):
            raise ValueError("stack name must match [a-z0-9][a-z0-9_.-]{0,62}")
        if monthly_usd is None and monthly_tokens is None:
            raise ValueError("give monthly_usd, monthly_tokens or both")
        if (monthly_usd is not None and monthly_usd <= 0) or (
            monthly_tokens is not None and monthly_tokens <= 0
        ):
            raise ValueError("a budget must be positive")
        budget = Budget(stack, monthly_usd, monthly_tokens, self._clock())
        with self._engine.begin() as con:
            upsert(con, budgets_table, msgspec.structs.asdict(budget), ["stack_name"])
        return budget

    def delete(self, stack: str) -> bool:
        with self._engine.begin() as con:
            result = con.execute(budgets_table.delete().where(budgets_table.c.stack_name == stack))
            return bool(result.rowcount)

    def list(self, stacks: tuple[str, ...] | None = None) -> list[Budget]:
        query = sa.select(budgets_table).order_by(budgets_table.c.stack_name)
        if stacks is not None:
            query = query.where(budgets_table.c.stack_name.in_(stacks))
        with self._engine.connect() as con:
            found = [Budget(**row) for row in con.execute(query).mappings()]
        # Sorted here too: a PostgreSQL collation may order names unlike SQLite's bytes.
        return sorted(found, key=lambda budget: budget.stack_name)


def _status(ratio: float | None) -> str:
    if ratio is None:
        return "ok"
    if ratio >= 1.0:
        return "exceeded"
    return "warning" if ratio >= WARNING_RATIO else "ok"


def utilization(
    budget: Budget,
    used_usd: float,
    used_tokens: float,
    projected_usd: float,
    projected_tokens: float,
) -> dict[str, Any]:
    """The budget with month-to-date use, ratios and the month-end projection."""
    usd_ratio = None if budget.monthly_usd is None else used_usd / budget.monthly_usd
    tok_ratio = None if budget.monthly_tokens is None else used_tokens / budget.monthly_tokens
    worst = max((r for r in (usd_ratio, tok_ratio) if r is not None), default=None)
    return {
        "stack_name": budget.stack_name,
        "monthly_usd": budget.monthly_usd,
        "monthly_tokens": budget.monthly_tokens,
        "used_usd": used_usd,
        "used_tokens": int(used_tokens),
        "usd_utilization": usd_ratio,
        "tokens_utilization": tok_ratio,
        "projected_usd": projected_usd,
        "projected_tokens": int(projected_tokens),
        "projected_usd_utilization": None
        if budget.monthly_usd is None
        else projected_usd / budget.monthly_usd,
        "projected_tokens_utilization": None
        if budget.monthly_tokens is None
        else projected_tokens / budget.monthly_tokens,
        "status": _status(worst),
    }


class MonthUsage(Protocol):
    """What :func:`budget_report` reads (an
    :class:`~stacklens.analytics.analytics_service.Analytics`)."""

    def clock(self) -> int: ...

    def month_usage(self, stack: str, now_ns: int) -> dict[str, float]: ...


def budget_report(analytics: MonthUsage, budgets: Sequence[Budget]) -> list[dict[str, Any]]:
    """Each budget with month-to-date use and the month-end projection (same rule as
    :func:`stacklens.analytics.costs.project`)."""
    now = analytics.clock()
    out = []
    for budget in budgets:
        used = analytics.month_usage(budget.stack_name, now)
        projection = project(now, 0.0, used["cost_usd"])
        factor = projection.days_in_month / projection.month_days_elapsed
        out.append(
            utilization(
                budget,
                used["cost_usd"],
                used["tokens"],
                projection.month_end_projection_usd,
                used["tokens"] * factor,
            )
        )
    return out
