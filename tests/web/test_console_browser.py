"""The console in real headless Chromium against a real hub on loopback with seeded
data: pages load without console errors, show the API's figures for the same filters,
react to filters and time range, and keep a stack-bound key inside its stack."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from stacklens.testing import wait_until
from stacklens.testing.web import TRACE_ID

pytestmark = pytest.mark.slow


def close(a: float | None, b: float | None, tol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def test_sign_in_rejects_a_wrong_key(tabs: Any) -> None:
    tab = tabs.open()
    tab.visit("/sessions")
    assert urlparse(tab.page.url).path == "/login"
    wrong = "slk_wrong_key_000000000000000000000000000000"
    tab.page.get_by_test_id("login-key").fill(wrong)
    with tab.page.expect_navigation() as nav:
        tab.page.get_by_test_id("login-submit").click()
    assert nav.value.status == 401
    assert "Unknown or revoked key" in tab.page.get_by_test_id("login-error").inner_text()
    assert wrong not in tab.page.content()  # never echoed
    assert tab.page.get_by_test_id("login-key").input_value() == ""
    assert wrong not in tab.page.url
    cookies = {c["name"]: c for c in tab.page.context.cookies()}
    assert "stacklens_session" not in cookies
    # Without a session the API does not answer the browser.
    assert tab.page.request.get(tab.base + "/api/v1/overview").status == 401


def test_session_cookie_flags_and_logout(tabs: Any, console: Any) -> None:
    tab = tabs.open(console.read_key)
    assert urlparse(tab.page.url).path == "/"
    cookie = next(c for c in tab.page.context.cookies() if c["name"] == "stacklens_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert console.read_key not in cookie["value"]
    assert tab.page.evaluate("document.cookie") == ""  # HttpOnly: not readable by scripts
    headers = tab.page.request.get(tab.base + "/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    with tab.page.expect_navigation():
        tab.page.get_by_test_id("logout").click()
    assert urlparse(tab.page.url).path == "/login"
    assert tab.page.request.get(tab.base + "/api/v1/overview").status == 401


def test_overview_shows_the_api_figures(admin: Any) -> None:
    admin.visit("/")
    window = admin.window()
    ov = admin.api("/api/v1/overview", **window, step=3600)
    costs = admin.api("/api/v1/costs", **window, by="day")
    messages = sum(r["messages"] for r in ov["messages"])
    tokens = sum(r["tokens_total"] for r in ov["tokens_by_model"])
    assert messages > 0
    assert admin.value("fig-messages") == messages
    assert admin.value("fig-tokens") == tokens
    assert admin.value("fig-active-stacks") == ov["active_stacks"]
    assert close(admin.value("fig-error-rate"), ov["errors"]["error_rate"])
    assert close(admin.value("fig-cost"), ov["cost"])
    assert close(admin.value("fig-cost-mtd"), costs["projection"]["month_to_date_usd"], 1e-6)
    shown = admin.page.locator("[data-testid=model-row]").evaluate_all(
        "rows => rows.map(r => [r.dataset.model, Number(r.dataset.tokens)])"
    )
    assert shown == [[r["model"], r["tokens_total"]] for r in ov["tokens_by_model"]]
    stacks = admin.page.locator("[data-testid=stack-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.stack)"
    )
    assert stacks == [s["stack_name"] for s in ov["stacks"]]
    assert admin.page.locator("[data-chart] .main-svg").count() >= 3  # Plotly drew
    admin.shot("overview")


def test_time_range_and_filters_change_what_is_shown(admin: Any) -> None:
    admin.visit("/")
    day = admin.value("fig-messages")
    with admin.page.expect_navigation():
        admin.page.get_by_test_id("range").select_option("1h")
    admin.settle()
    assert parse_qs(urlparse(admin.page.url).query)["range"] == ["1h"]  # shareable URL
    hour = admin.value("fig-messages")
    ov = admin.api("/api/v1/overview", **admin.window(), step=300)
    assert hour == sum(r["messages"] for r in ov["messages"])
    assert hour is not None and day is not None and hour < day
    # A stack filter narrows every figure, and the URL carries it.
    admin.visit("/?stack=acme-chat&range=24h")
    ov = admin.api("/api/v1/overview", **admin.window(), step=3600, stack="acme-chat")
    assert admin.value("fig-messages") == sum(r["messages"] for r in ov["messages"])
    assert admin.value("fig-messages") < day
    assert admin.page.locator("[data-testid=stack-row]").count() == 1


def test_stack_dashboard_shows_the_api_figures(admin: Any) -> None:
    admin.visit("/stacks/acme-chat")
    d = admin.api("/api/v1/stacks/acme-chat/dashboard", **admin.window(), step=3600)
    assert admin.page.get_by_test_id("stack-name").inner_text() == "acme-chat"
    assert admin.value("fig-sessions") == sum(r["sessions"] for r in d["sessions"])
    assert admin.value("fig-tokens-in") == sum(r["tokens_in"] for r in d["tokens"])
    assert admin.value("fig-active-sessions") == d["active_sessions"]
    for q in ("p50", "p95", "p99"):
        assert close(admin.value(f"fig-latency-{q}"), d["latency"][f"{q}_ms"])
    tools = admin.page.locator("[data-testid=tool-row]").evaluate_all(
        "rows => rows.map(r => [r.dataset.tool, Number(r.dataset.calls)])"
    )
    assert tools == [[t["tool"], t["calls"]] for t in d["tools"]]
    shown = admin.page.locator("[data-testid=error-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.eventId)"
    )
    assert shown == [e["event_id"] for e in d["error_log"]]
    assert "hand-log-2" in shown
    admin.shot("stack")
    model = d["tokens_by_model"][0]["model"]
    admin.visit(f"/stacks/acme-chat?model={model}")
    narrowed = admin.api(
        "/api/v1/stacks/acme-chat/dashboard", **admin.window(), step=3600, model=model
    )
    assert admin.value("fig-tokens-in") == sum(r["tokens_in"] for r in narrowed["tokens"])


def test_sessions_list_and_timeline(admin: Any) -> None:
    admin.visit("/sessions?stack=acme-chat")
    api = admin.api("/api/v1/sessions", **admin.window(), stack="acme-chat", limit=50)
    ids = admin.page.locator("[data-testid=session-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.sessionId)"
    )
    assert ids == [s["session_id"] for s in api["sessions"]]
    admin.shot("sessions")
    synthetic = next(s for s in ids if s != "sess_console_handmade")
    with admin.page.expect_navigation():
        admin.page.locator(f"[data-session-id='{synthetic}'] [data-testid=session-link]").click()
    admin.settle()
    detail = admin.api(f"/api/v1/sessions/{synthetic}", stack="acme-chat")
    events = detail["stacks"][0]["events"]
    assert admin.page.locator("[data-testid=timeline-row]").count() == len(events)
    # Content is hashed by the default policy: hashes and lengths, never the text.
    message = next(e for e in events if e["event_type"] == "message")
    assert "content" not in message
    html = admin.page.content()
    assert message["content_hash"][:12] in html
    assert admin.page.locator(".hash").count() >= 1
    admin.visit("/sessions/sess_console_handmade?stack=acme-chat")
    assert "quarterly plan" not in admin.page.content()
    admin.shot("session")


def test_logs_search_links_and_live_tail(admin: Any, console: Any) -> None:
    admin.visit("/logs?stack=acme-chat&type=log")  # logs only (the default is both)
    table = admin.page.get_by_test_id("log-table")
    since, until = table.get_attribute("data-since-ns"), table.get_attribute("data-until-ns")
    api = admin.api(
        "/api/v1/events", event_type="log", stack="acme-chat", since=since, until=until, limit=200
    )
    ids = admin.page.locator("[data-testid=log-line]").evaluate_all(
        "rows => rows.map(r => r.dataset.eventId)"
    )
    assert ids == [e["event_id"] for e in api["events"]]
    assert "hand-log-1" in ids
    # Markup in a message is shown as text, not interpreted.
    line = admin.page.locator("[data-event-id='hand-log-1']")
    assert "<b>ok</b>" in line.inner_text()
    assert line.locator("b").count() == 0
    # Live tail: a line ingested after the page loaded appears without a reload.
    fresh = f"tail line {time.time_ns()}"
    console.ingest(
        [
            {
                "timestamp": time.time_ns(),
                "stack_name": "acme-chat",
                "event_type": "log",
                "level": "info",
                "service": "chat-api",
                "message": fresh,
            }
        ]
    )
    admin.page.get_by_text(fresh).wait_for(timeout=15_000)
    assert admin.errors == []
    admin.shot("logs")
    # Text and level search narrow the list.
    admin.visit("/logs?stack=acme-chat&q=upstream&level=error")
    ids = admin.page.locator("[data-testid=log-line]").evaluate_all(
        "rows => rows.map(r => r.dataset.eventId)"
    )
    assert ids == ["hand-log-2"]
    # A log line links to its session and to its trace.
    admin.visit("/logs?stack=acme-chat&q=handcrafted+request")
    line = admin.page.locator("[data-event-id='hand-log-1']")
    assert "/sessions/sess_console_handmade" in line.get_by_test_id(
        "log-session-link"
    ).get_attribute("href")
    with admin.page.expect_navigation():
        line.get_by_test_id("log-trace-link").click()
    admin.settle()
    assert admin.page.get_by_test_id("trace-id").inner_text() == TRACE_ID
    spans = admin.page.locator("[data-testid=span-row]").evaluate_all(
        "rows => rows.map(r => [r.dataset.eventId, Number(r.dataset.depth)])"
    )
    api = admin.api("/api/v1/events", trace_id=TRACE_ID)
    assert len(spans) == len(api["events"])
    depth = dict(spans)
    assert depth["hand-span-root"] == 0
    assert depth["hand-span-llm"] == 1
    assert depth["hand-span-tool"] == 2
    assert depth["hand-log-1"] == 1  # a log inside the root span
    admin.shot("trace")


def test_costs_page_and_export(admin: Any) -> None:
    admin.visit("/costs?by=model")
    report = admin.api("/api/v1/costs", **admin.window(), by="model")
    rows = admin.page.locator("[data-testid=cost-row]").evaluate_all(
        "rows => rows.map(r => [r.dataset.key, Number(r.dataset.cost)])"
    )
    assert [k for k, _ in rows] == [r["model"] or "" for r in report["rows"]]
    assert all(close(c, r["cost_usd"]) for (_, c), r in zip(rows, report["rows"], strict=True))
    assert close(admin.value("fig-cost-total"), report["total"]["cost_usd"])
    with admin.page.expect_navigation():
        admin.page.get_by_test_id("cost-by-agent").click()
    admin.settle()
    assert parse_qs(urlparse(admin.page.url).query)["by"] == ["agent"]
    by_agent = admin.api("/api/v1/costs", **admin.window(), by="agent")
    keys = admin.page.locator("[data-testid=cost-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.key)"
    )
    assert keys == [r["agent"] or "" for r in by_agent["rows"]]
    admin.shot("costs")
    month = time.strftime("%Y-%m", time.gmtime())
    csv = admin.page.request.get(f"{admin.base}/costs/export?month={month}")
    assert csv.status == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text().splitlines()[0].startswith("day,")
    assert len(csv.text().splitlines()) > 1


def test_alerts_page_and_silences(admin: Any) -> None:
    admin.visit("/alerts")
    alerts = admin.api("/api/v1/alerts")["alerts"]
    firing = [a for a in alerts if a["state"] == "firing"]
    assert admin.page.get_by_test_id("count-firing").inner_text() == str(len(firing))
    admin.page.locator("textarea[name=matchers]").fill('alertname="ConsoleTest"')
    admin.page.locator("input[name=comment]").fill("from the browser test")
    with admin.page.expect_navigation():
        admin.page.get_by_test_id("create-silence").click()
    admin.settle()
    silences = admin.api("/api/v1/silences")["silences"]
    created = next(s for s in silences if s["comment"] == "from the browser test")
    row = admin.page.locator(f"[data-silence-id='{created['id']}']")
    assert row.count() == 1
    admin.shot("alerts")
    with admin.page.expect_navigation():
        row.get_by_test_id("expire-silence").click()
    admin.settle()
    assert admin.page.locator(f"[data-silence-id='{created['id']}']").count() == 0


def test_admin_keys_and_revocation_ends_sessions(admin: Any, tabs: Any) -> None:
    admin.visit("/admin")
    admin.page.locator("[data-testid=key-form] select[name=role]").select_option("read")
    admin.page.locator("[data-testid=key-form] select[name=stack]").select_option("john-dev")
    admin.page.locator("[data-testid=key-form] input[name=label]").fill("made in browser")
    with admin.page.expect_navigation():
        admin.page.get_by_test_id("create-key").click()
    admin.settle()
    key = admin.page.get_by_test_id("new-key").inner_text().strip()
    assert key.startswith("slk_")
    assert key not in admin.page.url
    admin.shot("admin")
    other = tabs.open(key)
    assert other.page.get_by_test_id("principal").inner_text() == "read · john-dev"
    admin.visit("/admin")
    row = admin.page.locator("[data-testid=key-row]").filter(has_text="made in browser")
    with admin.page.expect_navigation():
        row.get_by_test_id("revoke-key").click()
    admin.settle()
    other.visit("/sessions")
    assert urlparse(other.page.url).path == "/login"  # the session ended with its key


def test_a_read_key_cannot_administer(tabs: Any, console: Any) -> None:
    tab = tabs.open(console.read_key)
    tab.errors.clear()
    response = tab.page.goto(tab.base + "/admin")
    assert response is not None
    assert response.status == 403
    tab.visit("/alerts")
    assert tab.page.get_by_test_id("silence-form").count() == 0
    # Cookie sessions never authorize API mutations, whatever the role.
    assert (
        tab.page.request.post(
            tab.base + "/api/v1/silences", data={"matchers": ["a=b"], "duration": "1h"}
        ).status
        == 401
    )


def test_a_stack_bound_key_sees_only_its_stack(tabs: Any, console: Any) -> None:
    tab = tabs.open(console.acme_key)
    tab.visit("/")
    assert tab.page.locator("[data-testid=stack-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.stack)"
    ) == ["acme-chat"]
    ov = tab.api("/api/v1/overview", **tab.window(), step=3600)
    assert tab.value("fig-messages") == sum(r["messages"] for r in ov["messages"])
    tab.errors.clear()
    response = tab.page.goto(tab.base + "/stacks/john-dev")
    assert response is not None
    assert response.status == 403
    assert tab.page.request.get(tab.base + "/api/v1/overview?stack=john-dev").status == 403
    tab.visit("/logs?type=all")
    stacks = set(tab.page.locator("[data-testid=log-line] td:nth-child(2)").all_inner_texts())
    assert stacks == {"acme-chat"}
    assert "john-dev private log line" not in tab.page.content()
    tab.visit("/sessions")
    assert tab.page.locator("[data-testid=session-row]").count() > 0
    assert "john-dev" not in tab.page.locator("[data-testid=sessions-table]").inner_text()
    john = tab.page.request.get(tab.base + "/api/v1/sessions", params={"stack": "john-dev"})
    assert john.status == 403
    tab.errors.clear()
    response = tab.page.goto(tab.base + "/admin")
    assert response is not None
    assert response.status == 403


def test_phone_viewport_has_no_horizontal_scroll(tabs: Any, console: Any) -> None:
    tab = tabs.open(
        console.admin_key,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    for path, name in (
        ("/", "overview-phone"),
        ("/logs", "logs-phone"),
        ("/stacks/acme-chat", "stack-phone"),
    ):
        tab.visit(path)
        wait_until(
            lambda: tab.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"),
            timeout=5,
        )
        tab.shot(name)


# -- issue 11/12: empty and sparse charts, escaped labels, every page at two sizes --------
HOUR_NS = 3600 * 10**9
EVIL_MODEL = '<a href="https://evil.example/">Session expired: sign in again</a>'
NO_DATA = "No data in this window"


def rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 10**9))


def chart_axis(tab: Any, name: str) -> list[str]:
    """The drawn x-axis range of a chart, as ``YYYY-MM-DD HH:MM:SS``."""
    raw = tab.page.locator(f"[data-testid=chart-{name}]").evaluate(
        "el => el._fullLayout.xaxis.range"
    )
    return [str(v).replace("T", " ")[:19] for v in raw]


def test_charts_without_data_say_so_and_keep_the_window(admin: Any) -> None:
    since, until = "2021-01-01T00:00:00Z", "2021-01-02T00:00:00Z"
    admin.visit(f"/?since={since}&until={until}")
    charts = admin.page.locator("[data-chart]")
    assert charts.count() == 3
    for index in range(3):
        chart = charts.nth(index)
        assert chart.get_attribute("data-empty") == "true"
        assert chart.locator(".annotation-text").text_content() == NO_DATA
        assert chart.locator(".ytick text").count() == 0  # no made-up -1…4 axis
    assert chart_axis(admin, "messages") == ["2021-01-01 00:00:00", "2021-01-02 00:00:00"]
    admin.shot("overview-no-data")


def test_a_single_point_keeps_the_axis_on_the_window(admin: Any, console: Any) -> None:
    moment = console.now_ns - 10 * 24 * HOUR_NS
    moment -= moment % HOUR_NS
    console.ingest(
        [
            {
                "event_id": "lonely-message",
                "timestamp": moment + 30 * 60 * 10**9,
                "stack_name": "acme-chat",
                "event_type": "message",
                "session_id": "sess_lonely",
                "data": {"role": "user", "content": "anyone there?"},
            }
        ]
    )
    since, until = rfc3339(moment - 6 * HOUR_NS), rfc3339(moment + 6 * HOUR_NS)
    path = f"/?since={since}&until={until}&stack=acme-chat"

    def loaded() -> bool:
        admin.visit(path)
        return admin.value("fig-messages") == 1

    wait_until(loaded, timeout=20)
    chart = admin.page.get_by_test_id("chart-messages")
    assert chart.get_attribute("data-empty") is None
    assert chart_axis(admin, "messages") == [s.replace("T", " ")[:19] for s in (since, until)]


def test_model_names_are_not_links_in_charts(admin: Any, console: Any) -> None:
    console.ingest(
        [
            {
                "event_id": "evil-model-call",
                "timestamp": time.time_ns() - 60 * 10**9,
                "stack_name": "acme-chat",
                "event_type": "llm_call",
                "data": {"model": EVIL_MODEL, "tokens_in": 10**7, "tokens_out": 1},
            }
        ]
    )

    def loaded() -> bool:
        admin.visit("/?range=1h")
        return EVIL_MODEL in admin.page.locator("[data-testid=tokens-table]").inner_text()

    wait_until(loaded, timeout=20)
    chart = admin.page.get_by_test_id("chart-tokens_by_model")
    assert chart.locator("a").count() == 0  # Plotly drew no link from the label
    assert EVIL_MODEL in chart.evaluate("el => el.textContent")  # shown as text
    assert admin.page.locator("a[href='https://evil.example/']").count() == 0
    admin.shot("overview-escaped-label")


EMPTY_WINDOW = "since=2021-01-01T00:00:00Z&until=2021-01-02T00:00:00Z"
#: (path, screenshot name, status, charts expected empty)
EVERY_PAGE = (
    ("/", "overview", 200, False),
    (f"/?{EMPTY_WINDOW}", "overview-empty", 200, True),
    ("/stacks", "stacks", 200, False),
    ("/stacks/acme-chat", "stack", 200, False),
    (f"/stacks/acme-chat?{EMPTY_WINDOW}", "stack-empty", 200, True),
    ("/stacks/does-not-exist", "stack-404", 404, False),
    ("/sessions", "sessions", 200, False),
    ("/sessions/sess_console_handmade?stack=acme-chat", "session", 200, False),
    ("/logs", "logs", 200, False),
    (f"/traces/{TRACE_ID}", "trace", 200, False),
    ("/costs", "costs", 200, False),
    (f"/costs?{EMPTY_WINDOW}", "costs-empty", 200, True),
    ("/alerts", "alerts", 200, False),
    ("/admin", "admin", 200, False),
)
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_page_at_desktop_and_phone_size(tabs: Any, console: Any, size: str) -> None:
    """Screenshots of every console page (``test-artifacts/screenshots``), each checked:
    its status, no script errors, 'no data' where the window is empty, the 404 page,
    and no horizontal scrolling on a phone."""
    login = tabs.open(**SIZES[size])
    login.visit("/login")
    login.shot(f"login-{size}")
    tab = tabs.open(console.admin_key, **SIZES[size])
    for path, name, status, empty in EVERY_PAGE:
        if status == 200:
            tab.visit(path)
        else:
            response = tab.page.goto(tab.base + path, wait_until="load")
            assert response is not None and response.status == status, path
            assert tab.page.get_by_test_id("error-status").inner_text() == str(status)
            assert "does-not-exist" in tab.page.get_by_test_id("error-detail").inner_text()
            # Chromium reports the 404 of the document itself; nothing else may fail.
            assert all("404" in e for e in tab.errors), tab.errors
            tab.errors.clear()
        charts = tab.page.locator("[data-chart]")
        if empty:
            assert charts.count() > 0
            assert charts.locator(".annotation-text").all_text_contents() == [NO_DATA] * (
                charts.count()
            ), path
        elif status == 200 and name not in ("stacks",):
            assert tab.page.locator("[data-empty]").count() == 0, path
        if size == "phone":
            wait_until(
                lambda: tab.page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth"
                ),
                timeout=5,
            )
        tab.shot(f"{name}-{size}")


def test_the_logs_page_tails_logs_and_errors_by_default(admin: Any, console: Any) -> None:
    admin.visit("/logs?stack=acme-chat")
    assert admin.page.get_by_test_id("filter-type").input_value() == "all"
    ids = admin.page.locator("[data-testid=log-line]").evaluate_all(
        "rows => rows.map(r => r.dataset.eventId)"
    )
    assert "hand-log-1" in ids  # a log
    errors = admin.api("/api/v1/events", event_type="error", stack="acme-chat", limit=5)
    assert errors["events"] and errors["events"][0]["event_id"] in ids  # and an error
    stamp = time.time_ns()
    console.ingest(
        [
            {
                "timestamp": stamp,
                "stack_name": "acme-chat",
                "event_type": "error",
                "level": "error",
                "message": f"tailed error {stamp}",
            },
            {
                "timestamp": stamp,
                "stack_name": "acme-chat",
                "event_type": "log",
                "level": "info",
                "message": f"tailed log {stamp}",
            },
        ]
    )
    admin.page.get_by_text(f"tailed error {stamp}").wait_for(timeout=15_000)
    admin.page.get_by_text(f"tailed log {stamp}").wait_for(timeout=15_000)
    assert admin.errors == []
