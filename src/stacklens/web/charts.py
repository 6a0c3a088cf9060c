"""Plotly figure specs (plain dicts) for the console's charts.

The server builds ``{"data": [...], "layout": {...}}`` from the analytics rows and
embeds it as JSON (``<script type="application/json">``); ``static/console.js`` hands
it to ``Plotly.newPlot``. Plotly itself is the ``plotly.min.js`` shipped in the
``plotly`` Python package, served by the hub — no CDN, no build step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

__all__ = ["bar", "figure", "horizontal_bar", "time_series"]

_COLORS: Final = ("#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16")


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}, "x": 0, "xanchor": "left"},
        "margin": {"l": 48, "r": 12, "t": 36, "b": 40},
        "height": 260,
        "autosize": True,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        "font": {"family": "system-ui, sans-serif", "size": 11},
    }
    layout.update(extra)
    return layout


def figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "layout": layout}


def time_series(
    title: str,
    rows: Sequence[dict[str, Any]],
    measures: Sequence[tuple[str, str]],
    *,
    kind: str = "scatter",
    stacked: bool = False,
) -> dict[str, Any]:
    """One trace per ``(column, label)`` over the rows' ``time``."""
    x = [r.get("time") for r in rows]
    data = []
    for index, (column, label) in enumerate(measures):
        trace: dict[str, Any] = {
            "type": kind,
            "name": label,
            "x": x,
            "y": [_num(r.get(column)) for r in rows],
            "marker": {"color": _COLORS[index % len(_COLORS)]},
        }
        if kind == "scatter":
            trace["mode"] = "lines+markers" if len(rows) < 40 else "lines"
            trace["line"] = {"width": 2}
        data.append(trace)
    extra: dict[str, Any] = {"xaxis": {"type": "date"}, "yaxis": {"rangemode": "tozero"}}
    if stacked:
        extra["barmode"] = "stack"
    return figure(data, _layout(title, **extra))


def bar(
    title: str,
    rows: Sequence[dict[str, Any]],
    key: str,
    measures: Sequence[tuple[str, str]],
    *,
    stacked: bool = True,
) -> dict[str, Any]:
    x = [str(r.get(key) if r.get(key) is not None else "(none)") for r in rows]
    data = [
        {
            "type": "bar",
            "name": label,
            "x": x,
            "y": [_num(r.get(column)) for r in rows],
            "marker": {"color": _COLORS[i % len(_COLORS)]},
        }
        for i, (column, label) in enumerate(measures)
    ]
    return figure(
        data,
        _layout(
            title,
            barmode="stack" if stacked else "group",
            xaxis={"type": "category", "automargin": True},
        ),
    )


def horizontal_bar(
    title: str, rows: Sequence[dict[str, Any]], key: str, column: str, label: str
) -> dict[str, Any]:
    ordered = list(reversed(rows))
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": label,
            "y": [str(r.get(key) if r.get(key) is not None else "(none)") for r in ordered],
            "x": [_num(r.get(column)) for r in ordered],
            "marker": {"color": _COLORS[0]},
        }
    ]
    return figure(
        data, _layout(title, yaxis={"type": "category", "automargin": True}, showlegend=False)
    )


def _num(value: Any) -> float | int:
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0
