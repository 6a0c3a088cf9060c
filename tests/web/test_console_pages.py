"""Console pages in-process (issue 11/12 findings): the Stacks index, 404 for an
unknown stack, the preset window, the cost label, the error log's message, the logs
page's default, a session with one-sided token counts, and sign-in backoff."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stacklens.testing import ADMIN_KEY, ManualClock, hub_config
from stacklens.testing.web import sign_in_client
from stacklens.web.throttle import LoginThrottle

NOW = 1_768_046_400 * 10**9 + 27 * 60 * 10**9  # 2026-01-10T12:27Z: mid-hour
HOUR = 3600 * 10**9


@pytest.fixture
def app_parts(tmp_path: Path) -> Iterator[tuple[Any, TestClient, ManualClock]]:
    from stacklens.server import Hub, create_app

    clock = ManualClock(NOW)
    hub = Hub(hub_config(tmp_path / "data"), clock=clock)
    hub.bootstrap_admin()
    app = create_app(hub)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield hub, client, clock


def ingest(hub: Any, client: TestClient, events: list[dict[str, Any]]) -> None:
    response = client.post("/v1/events", headers={"X-API-Key": ADMIN_KEY}, json=events)
    assert response.status_code == 200 and not response.json()["rejected"], response.text
    hub.flush()


def ev(stack: str, event_type: str, minutes_ago: float, **fields: Any) -> dict[str, Any]:
    return {
        "timestamp": NOW - int(minutes_ago * 60 * 10**9),
        "stack_name": stack,
        "event_type": event_type,
        **fields,
    }


def rows(html: str, testid: str, attr: str) -> list[str]:
    pattern = rf'data-testid="{testid}"[^>]*?{attr}="([^"]*)"'
    return re.findall(pattern, html)


def window_of(html: str) -> tuple[str, str]:
    match = re.search(r'<main id="main" data-since="([^"]+)" data-until="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1), match.group(2)


def test_an_unknown_stack_is_404(app_parts: Any) -> None:
    hub, client, _ = app_parts
    ingest(hub, client, [ev("acme", "message", 5, data={"role": "user"})])
    sign_in_client(client, ADMIN_KEY)
    assert client.get("/stacks/acme").status_code == 200
    missing = client.get("/stacks/does-not-exist")
    assert missing.status_code == 404
    assert "does-not-exist" in missing.text and 'data-testid="fig-sessions"' not in missing.text
    hub.stacks.create("registered-quiet")  # registered, never reported: exists
    assert client.get("/stacks/registered-quiet").status_code == 200


def test_stacks_index_shows_every_stack_sortably(app_parts: Any) -> None:
    hub, client, _ = app_parts
    events = [ev("big", "message", 10 + i, data={"role": "user"}) for i in range(5)]
    events += [
        ev("big", "llm_call", 3, data={"model": "m", "tokens_in": 10, "cost_usd": 0.5}),
        ev("small", "tool_use", 4, data={"tool": "bash", "success": False}),
        ev("small", "error", 4, level="error", message="boom"),
        ev("small", "llm_call", 4, data={"model": "m", "tokens_in": 10, "cost_usd": 2.0}),
    ]
    ingest(hub, client, events)
    hub.stacks.create("quiet")
    sign_in_client(client, ADMIN_KEY)
    overview = client.get("/")
    assert 'href="/stacks"' in overview.text  # the nav's "Stacks" is the index
    page = client.get("/stacks")
    assert page.status_code == 200
    assert rows(page.text, "stacks-index-row", "data-stack") == ["big", "quiet", "small"]
    by_events = client.get("/stacks?sort=-events").text
    assert rows(by_events, "stacks-index-row", "data-stack") == ["big", "small", "quiet"]
    assert rows(by_events, "stacks-index-row", "data-events") == ["6", "3", "0"]
    by_cost = client.get("/stacks?sort=-cost").text
    assert rows(by_cost, "stacks-index-row", "data-stack") == ["small", "big", "quiet"]
    assert rows(by_cost, "stacks-index-row", "data-cost") == ["2.0", "0.5", "0.0"]
    by_errors = client.get("/stacks?sort=-errors").text
    assert rows(by_errors, "stacks-index-row", "data-errors") == ["2", "0", "0"]
    health = client.get("/stacks?sort=health").text
    assert rows(health, "stacks-index-row", "data-health")[-1] == "up"
    assert "never" in page.text  # the registered stack that never reported
    for key in ("stack", "health", "last_seen", "events", "errors", "cost"):
        assert f'data-testid="sort-{key}"' in page.text


def test_a_stack_bound_key_sees_its_stack_only_in_the_index(app_parts: Any) -> None:
    hub, client, _ = app_parts
    ingest(hub, client, [ev("acme", "message", 5), ev("other", "message", 5)])
    _, key = hub.keyring.create("read", stack="acme")
    sign_in_client(client, key)
    page = client.get("/stacks")
    assert rows(page.text, "stacks-index-row", "data-stack") == ["acme"]
    assert client.get("/stacks/does-not-exist").status_code == 403  # no name probing


def test_the_24h_range_is_the_apis_24_hours(app_parts: Any) -> None:
    _, client, _ = app_parts
    sign_in_client(client, ADMIN_KEY)
    since, until = window_of(client.get("/").text)
    api = client.get("/api/v1/overview").json()["window"]  # the API's default: 24 h
    assert (since, until) == (api["since"], api["until"])
    assert (since, until) == ("2026-01-09T13:00:00.000000Z", "2026-01-10T13:00:00.000000Z")
    page = client.get("/?range=1h").text
    assert window_of(page) == ("2026-01-10T11:30:00.000000Z", "2026-01-10T12:30:00.000000Z")
    assert "→ now (UTC)" in page  # the current bucket's end is not shown as a time to come
    stack_since, stack_until = window_of(client.get("/sessions").text)
    assert (stack_since, stack_until) == (since, until)


def test_the_cost_figure_names_its_days(app_parts: Any) -> None:
    _, client, _ = app_parts
    sign_in_client(client, ADMIN_KEY)
    for path in ("/", "/costs"):
        page = client.get(path).text
        assert "window days" not in page
        assert "Cost 2026-01-09 to 2026-01-10 (UTC days)" in page, path


def test_the_error_log_shows_what_failed(app_parts: Any) -> None:
    hub, client, _ = app_parts
    ingest(
        hub,
        client,
        [
            ev("acme", "tool_use", 3, data={"tool": "bash", "success": False}),
            ev(
                "acme",
                "llm_call",
                2,
                data={"model": "gpt-4o", "success": False, "error_code": "rate_limited"},
            ),
            ev("acme", "error", 1, level="error", message="upstream timeout"),
        ],
    )
    sign_in_client(client, ADMIN_KEY)
    page = client.get("/stacks/acme").text
    messages = re.findall(r'data-testid="error-message">([^<]*)<', page)
    assert messages == [
        "upstream timeout",
        "LLM call to gpt-4o failed: rate_limited",
        "tool bash failed",
    ]


def test_the_logs_page_shows_logs_and_errors_by_default(app_parts: Any) -> None:
    hub, client, _ = app_parts
    ingest(
        hub,
        client,
        [
            ev("acme", "log", 3, level="info", message="a log", event_id="the-log"),
            ev("acme", "error", 2, level="error", message="an error", event_id="the-error"),
        ],
    )
    sign_in_client(client, ADMIN_KEY)
    page = client.get("/logs").text
    assert rows(page, "log-line", "data-event-id") == ["the-error", "the-log"]
    assert 'data-type="all"' in page
    assert rows(client.get("/logs?type=log").text, "log-line", "data-event-id") == ["the-log"]


def test_a_session_with_only_input_tokens_renders(app_parts: Any) -> None:
    hub, client, _ = app_parts
    ingest(
        hub,
        client,
        [
            ev("acme", "llm_call", 3, session_id="s1", data={"model": "m", "tokens_in": 5}),
            ev("acme", "llm_call", 2, session_id="s1", data={"model": "m", "tokens_out": 7}),
        ],
    )
    sign_in_client(client, ADMIN_KEY)
    page = client.get("/sessions/s1")
    assert page.status_code == 200
    assert "5 / —" in page.text and "— / 7" in page.text
    assert client.get("/sessions?range=1h").status_code == 200


def test_failed_sign_ins_back_off_and_recover(app_parts: Any) -> None:
    _, client, clock = app_parts
    wrong = "slk_wrong_key_000000000000000000000000000000"
    for _ in range(6):  # five free failures; the sixth closes the form for 1 s
        assert sign_in_client(client, wrong).status_code == 401
    blocked = sign_in_client(client, wrong)
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "1"
    assert "Too many failed sign-ins" in blocked.text
    assert sign_in_client(client, ADMIN_KEY).status_code == 429  # not even the right key
    clock.advance(1)
    assert sign_in_client(client, wrong).status_code == 401  # next wait doubles
    again = sign_in_client(client, ADMIN_KEY)
    assert again.status_code == 429 and again.headers["retry-after"] == "2"
    clock.advance(2)
    ok = sign_in_client(client, ADMIN_KEY)
    assert ok.status_code == 303
    assert client.get("/").status_code == 200


def test_the_throttle_is_per_address_bounded_and_forgets() -> None:
    clock = ManualClock(NOW)
    throttle = LoginThrottle(clock, free=2, base_s=1, max_s=8, forget_s=60, max_entries=3)
    assert [throttle.failed("a") for _ in range(7)] == [0, 0, 1, 2, 4, 8, 8]
    assert throttle.retry_after("a") == 8 and throttle.retry_after("b") == 0
    clock.advance(61)
    assert throttle.retry_after("a") == 0
    assert throttle.failed("a") == 0  # forgotten: free failures again
    for address in ("b", "c", "d"):
        throttle.failed(address)
    assert throttle.failed("a") == 0  # "a" was the stalest and was dropped
    throttle.failed("a")
    assert throttle.failed("a") == 1
    throttle.succeeded("a")
    assert throttle.retry_after("a") == 0
