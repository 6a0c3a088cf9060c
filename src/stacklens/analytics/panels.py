"""The console's panel shapes, built from query rows: a time series, a top-N list, a
token table, an error rate — and :class:`Grouped`, which splits the rows of one
:func:`~stacklens.analytics.queries.grouped` read back into those panels, each
ordered and cut as its own query orders and limits it, so a page can read the rollup
once for several panels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from stacklens.analytics.rollups import TOKEN_COLUMNS
from stacklens.store.api_rows import format_ns

__all__ = [
    "AGENT_MEASURES",
    "TOKENS_LIMIT",
    "TOKEN_MEASURES",
    "Grouped",
    "error_rate_out",
    "largest_first",
    "rate",
    "tokens_out",
    "with_time",
]

#: The token table's measures, and how many rows (by tokens in) it reads at most.
TOKEN_MEASURES: Final = (*TOKEN_COLUMNS, "cost_usd", "llm_calls", "unpriced")
TOKENS_LIMIT: Final = 1000
AGENT_MEASURES: Final = (
    "requests",
    "messages",
    "llm_calls",
    "tool_calls",
    "errors",
    "tokens_in",
    "tokens_out",
    "cost_usd",
)


def rate(numerator: float, denominator: float) -> float | None:
    return None if not denominator else numerator / denominator


def with_time(row: dict[str, Any], key: str = "bucket_ns", out: str = "time") -> dict[str, Any]:
    """``row`` with ``out``, the RFC 3339 text of the nanosecond instant ``key``."""
    if row.get(key) is not None:
        row[out] = format_ns(int(row[key]))
    return row


def largest_first(rows: list[dict[str, Any]], key: str, measure: str) -> list[dict[str, Any]]:
    """As :func:`~stacklens.analytics.queries.breakdown` orders: ``measure``
    descending, then ``key`` ascending with no value last."""
    return sorted(rows, key=lambda r: (-(r[measure] or 0), r[key] is None, r[key] or ""))


def tokens_out(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """The token table from rows of :data:`TOKEN_MEASURES` per ``by``: a total per row,
    no cost (not $0) where every call is unpriced, rows with neither tokens nor LLM
    calls left out, the largest total first."""
    out = []
    for row in rows:
        row["tokens_total"] = int(row["tokens_in"]) + int(row["tokens_out"])
        if row["llm_calls"] and int(row["unpriced"] or 0) >= int(row["llm_calls"]):
            row["cost_usd"] = None  # every call unpriced: no cost, not $0 (issue 12)
        if row["tokens_total"] or row["llm_calls"]:
            out.append(row)
    out.sort(key=lambda r: (-r["tokens_total"], str(r[by])))
    return out


def error_rate_out(row: dict[str, Any]) -> dict[str, Any]:
    errors, requests = int(row.get("errors") or 0), int(row.get("requests") or 0)
    return {"errors": errors, "requests": requests, "error_rate": rate(errors, requests)}


class Grouped:
    """The rows of one ``grouped(d, f, ("bucket", *dims, None), measures)`` read."""

    def __init__(self, rows: Sequence[dict[str, Any]], dims: Sequence[str]) -> None:
        self._rows = rows
        self._flags = ("g_bucket", *(f"g_{dim}" for dim in dims))

    def _panel(self, flag: str | None, keys: Sequence[str]) -> list[dict[str, Any]]:
        # A row belongs to the grouping whose flag is 0; the totals have every flag 1.
        return [
            {k: r[k] for k in keys}
            for r in self._rows
            if all(r[g] == (0 if g == flag else 1) for g in self._flags)
        ]

    def series(self, measures: Sequence[str]) -> list[dict[str, Any]]:
        """As :func:`~stacklens.analytics.queries.series`: per bucket, in time order."""
        rows = self._panel("g_bucket", ("bucket_ns", *measures))
        return [with_time(r) for r in sorted(rows, key=lambda r: r["bucket_ns"])]

    def top(self, dim: str, measures: Sequence[str], by: str, limit: int) -> list[dict[str, Any]]:
        """As :func:`~stacklens.analytics.queries.breakdown` with ``order_by=by``."""
        return largest_first(self._panel(f"g_{dim}", (dim, *measures)), dim, by)[:limit]

    def totals(self, measures: Sequence[str]) -> dict[str, Any]:
        """As :func:`~stacklens.analytics.queries.totals`."""
        rows = self._panel(None, measures)
        return rows[0] if rows else {}

    def tokens(self, dim: str) -> list[dict[str, Any]]:
        """The token table per ``dim`` (read with :data:`TOKEN_MEASURES`), as
        ``Analytics.tokens`` gives it."""
        return tokens_out(self.top(dim, TOKEN_MEASURES, "tokens_in", TOKENS_LIMIT), dim)

    def error_rate(self) -> dict[str, Any]:
        """Errors, requests and their rate (read with both), as ``Analytics.error_rate``."""
        return error_rate_out(self.totals(("errors", "requests")))
