"""Plotly figure specs (plain dicts) for the console's charts.

The server builds ``{"data": [...], "layout": {...}}`` from the analytics rows and
embeds it as JSON (``<script type="application/json">``); ``static/console.js`` hands
it to ``Plotly.newPlot``. Plotly itself is the ``plotly.min.js`` shipped in the
``plotly`` Python package, served by the hub — no CDN, no build step.

Plotly reads a small HTML dialect in every text it draws (``<a href>``, ``<b>``, …),
so labels that come from events (models, agents, tools, users) are entity-escaped
(:func:`label`): Plotly shows ``&lt;`` as ``<`` and a model named like a link stays
text. Time series keep their x-axis on the page's window, and a chart with nothing
to draw says so instead of showing an axis autoscaled around nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

__all__ = ["NO_DATA", "Window", "bar", "figure", "horizontal_bar", "label", "time_series"]

NO_DATA: Final = "No data in this window"
#: ``(since, until)`` as RFC 3339 text: the x-axis range of a time series.
Window = tuple[str, str]

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


def label(value: Any) -> str:
    """Text for Plotly that it shows as-is (its pseudo-HTML neutralized)."""
    text = "(none)" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _empty(layout: dict[str, Any], *axes: str) -> dict[str, Any]:
    """``layout`` for a chart without data: the message, and no made-up axis."""
    for axis in axes:
        layout[axis] = {
            **layout.get(axis, {}),
            "showticklabels": False,
            "showgrid": False,
            "zeroline": False,
            "range": [0, 1],
        }
    layout["annotations"] = [
        {
            "text": NO_DATA,
            "showarrow": False,
            "xref": "paper",
            "yref": "paper",
            "x": 0.5,
            "y": 0.5,
            "font": {"size": 13, "color": "#6b7280"},
        }
    ]
    layout["meta"] = {"empty": True}
    layout["showlegend"] = False
    return layout


def _has_data(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> bool:
    return any(_num(r.get(c)) for r in rows for c in columns)


def time_series(
    title: str,
    rows: Sequence[dict[str, Any]],
    measures: Sequence[tuple[str, str]],
    *,
    kind: str = "scatter",
    stacked: bool = False,
    window: Window | None = None,
    step_s: int | None = None,
) -> dict[str, Any]:
    """One trace per ``(column, label)`` over the rows' ``time``; the x-axis spans
    ``window`` whatever the rows (one point would otherwise zoom it to milliseconds),
    and bars are ``step_s`` wide."""
    x = [r.get("time") for r in rows]
    data = []
    for index, (column, name) in enumerate(measures):
        trace: dict[str, Any] = {
            "type": kind,
            "name": name,
            "x": x,
            "y": [_num(r.get(column)) for r in rows],
            "marker": {"color": _COLORS[index % len(_COLORS)]},
        }
        if kind == "scatter":
            trace["mode"] = "lines+markers" if len(rows) < 40 else "lines"
            trace["line"] = {"width": 2}
        elif step_s is not None:
            # Bucket starts: a bar covers its bucket (milliseconds on a date axis).
            trace["width"] = step_s * 1000 * 0.9
            trace["offset"] = 0
        data.append(trace)
    xaxis: dict[str, Any] = {"type": "date"}
    if window is not None:
        xaxis.update(range=list(window), autorange=False)
    extra: dict[str, Any] = {"xaxis": xaxis, "yaxis": {"rangemode": "tozero"}}
    if stacked:
        extra["barmode"] = "stack"
    layout = _layout(title, **extra)
    if not _has_data(rows, [column for column, _ in measures]):
        return figure([], _empty(layout, "yaxis"))
    return figure(data, layout)


def bar(
    title: str,
    rows: Sequence[dict[str, Any]],
    key: str,
    measures: Sequence[tuple[str, str]],
    *,
    stacked: bool = True,
) -> dict[str, Any]:
    x = [label(r.get(key)) for r in rows]
    data = [
        {
            "type": "bar",
            "name": name,
            "x": x,
            "y": [_num(r.get(column)) for r in rows],
            "marker": {"color": _COLORS[i % len(_COLORS)]},
        }
        for i, (column, name) in enumerate(measures)
    ]
    layout = _layout(
        title,
        barmode="stack" if stacked else "group",
        xaxis={"type": "category", "automargin": True},
    )
    if not _has_data(rows, [column for column, _ in measures]):
        return figure([], _empty(layout, "xaxis", "yaxis"))
    return figure(data, layout)


def horizontal_bar(
    title: str, rows: Sequence[dict[str, Any]], key: str, column: str, name: str
) -> dict[str, Any]:
    ordered = list(reversed(rows))
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": name,
            "y": [label(r.get(key)) for r in ordered],
            "x": [_num(r.get(column)) for r in ordered],
            "marker": {"color": _COLORS[0]},
        }
    ]
    layout = _layout(title, yaxis={"type": "category", "automargin": True}, showlegend=False)
    if not _has_data(rows, [column]):
        return figure([], _empty(layout, "xaxis", "yaxis"))
    return figure(data, layout)


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
