"""The console's Plotly specs: the window as x-axis, 'no data' instead of a made-up
axis, and labels Plotly cannot read as markup."""

from __future__ import annotations

from stacklens.web import charts

WINDOW = ("2026-01-09T13:00:00.000000Z", "2026-01-10T13:00:00.000000Z")


def test_a_time_series_keeps_its_window_with_one_point() -> None:
    rows = [{"time": "2026-01-10T12:00:00.000000Z", "messages": 3}]
    spec = charts.time_series(
        "m", rows, [("messages", "messages")], kind="bar", window=WINDOW, step_s=3600
    )
    assert spec["layout"]["xaxis"]["range"] == list(WINDOW)
    assert spec["layout"]["xaxis"]["autorange"] is False
    [trace] = spec["data"]
    assert trace["width"] == 3600 * 1000 * 0.9 and trace["offset"] == 0
    assert "annotations" not in spec["layout"]


def test_a_chart_without_data_says_so() -> None:
    for rows in ([], [{"time": WINDOW[0], "messages": 0}]):
        spec = charts.time_series("m", rows, [("messages", "messages")], window=WINDOW)
        assert spec["data"] == []
        assert spec["layout"]["xaxis"]["range"] == list(WINDOW)  # still the window
        assert spec["layout"]["yaxis"]["showticklabels"] is False
        assert spec["layout"]["annotations"][0]["text"] == charts.NO_DATA
        assert spec["layout"]["meta"] == {"empty": True}
    for spec in (
        charts.bar("b", [], "model", [("tokens_in", "in")]),
        charts.horizontal_bar("h", [], "agent", "requests", "requests"),
    ):
        assert spec["data"] == [] and spec["layout"]["annotations"][0]["text"] == charts.NO_DATA


def test_labels_are_not_markup_for_plotly() -> None:
    model = '<a href="https://evil.example/">Session expired & more</a>'
    spec = charts.bar("b", [{"model": model, "tokens_in": 5}], "model", [("tokens_in", "in")])
    [label] = spec["data"][0]["x"]
    assert "<" not in label and ">" not in label
    assert label == ('&lt;a href="https://evil.example/"&gt;Session expired &amp; more&lt;/a&gt;')
    spec = charts.horizontal_bar(
        "h", [{"agent": "<b>x</b>", "requests": 1}], "agent", "requests", "r"
    )
    assert spec["data"][0]["y"] == ["&lt;b&gt;x&lt;/b&gt;"]
    assert charts.label(None) == "(none)"
