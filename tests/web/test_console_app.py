"""The console in-process: sessions, CSRF, headers, access rules, escaping, the
charting library route and the pure helpers."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from stacklens.api.auth import SESSIONS
from stacklens.testing import ADMIN_KEY, ManualClock, hub_config
from stacklens.web.filters import parse_params
from stacklens.web.log_views import span_tree
from stacklens.web.routes import _safe_next
from stacklens.web.session import COOKIE_NAME

NOW = 1_768_046_400 * 10**9  # 2026-01-10T12:00Z


@pytest.fixture
def app_parts(tmp_path: Path) -> Iterator[tuple[Any, TestClient, ManualClock]]:
    from stacklens.server import Hub, create_app

    clock = ManualClock(NOW)
    hub = Hub(hub_config(tmp_path / "data"), clock=clock)
    hub.bootstrap_admin()
    app = create_app(hub)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield hub, client, clock


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def sign_in(client: TestClient, key: str = ADMIN_KEY) -> Any:
    form = client.get("/login")
    return client.post("/login", data={"csrf": csrf_of(form.text), "key": key, "next": "/logs"})


def test_pages_need_a_session(app_parts: Any) -> None:
    _, client, _ = app_parts
    response = client.get("/costs?by=day")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcosts%3Fby%3Dday"


def test_sign_in_sets_a_safe_cookie_and_headers(app_parts: Any) -> None:
    _, client, _ = app_parts
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/logs"
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith(COOKIE_NAME)
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http (Secure when https, below)
    assert ADMIN_KEY not in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text  # no inline scripts (only src= and JSON blocks)


def test_secure_cookie_over_https(app_parts: Any) -> None:
    _, plain, _ = app_parts
    # Not entered: the hub is already running (its lifespan belongs to `plain`).
    client = TestClient(plain.app, base_url="https://testserver", follow_redirects=False)
    response = sign_in(client)
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie, cookie


def test_sign_in_needs_the_csrf_token_and_a_reading_key(app_parts: Any) -> None:
    hub, client, _ = app_parts
    client.get("/login")
    refused = client.post("/login", data={"key": ADMIN_KEY})
    assert refused.status_code == 403
    assert COOKIE_NAME not in refused.headers.get("set-cookie", "")
    _, ingest = hub.keyring.create("ingest")
    response = sign_in(client, ingest)
    assert response.status_code == 403 and "cannot read" in response.text
    assert ingest not in response.text
    form = client.get("/login")
    cross = client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "key": ADMIN_KEY},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403


def test_sessions_expire_and_end_with_their_key(app_parts: Any) -> None:
    hub, client, clock = app_parts
    record, key = hub.keyring.create("read")
    sign_in(client, key)
    assert client.get("/sessions").status_code == 200
    hub.keyring.revoke(record.key_id)
    assert client.get("/sessions").status_code == 303
    sign_in(client)
    assert client.get("/sessions").status_code == 200
    clock.advance(12 * 3600 + 1)
    assert client.get("/sessions").status_code == 303


def test_logout_needs_the_token(app_parts: Any) -> None:
    _, client, _ = app_parts
    sign_in(client)
    page = client.get("/alerts")
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/alerts").status_code == 200
    out = client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    client.cookies.clear()
    assert client.get("/alerts").status_code == 303


def test_forms_are_csrf_checked_and_admin_only(app_parts: Any) -> None:
    hub, client, _ = app_parts
    sign_in(client)
    no_token = client.post("/admin/keys", data={"role": "read"})
    assert no_token.status_code == 403
    assert len(hub.keyring.list()) == 1
    page = client.get("/admin")
    made = client.post(
        "/admin/keys", data={"role": "read", "stack": "acme", "csrf": csrf_of(page.text)}
    )
    assert made.status_code == 200
    assert "location" not in made.headers
    [_, created] = hub.keyring.list()
    assert created.stack_name == "acme"
    _, read = hub.keyring.create("read")
    client.cookies.clear()
    sign_in(client, read)
    assert client.get("/admin").status_code == 403
    token = csrf_of(client.get("/alerts").text)
    for path, data in (
        ("/admin/keys", {"role": "admin"}),
        ("/alerts/silences", {"matchers": 'a="b"'}),
    ):
        assert client.post(path, data={**data, "csrf": token}).status_code == 403


def test_a_stack_bound_key_gets_403_for_another_stack(app_parts: Any) -> None:
    hub, client, _ = app_parts
    _, key = hub.keyring.create("read", stack="acme")
    sign_in(client, key)
    assert client.get("/stacks/acme").status_code == 200
    assert client.get("/stacks/other").status_code == 403
    assert client.get("/logs?stack=other").status_code == 403
    assert client.get("/costs/export?month=2026-01&stack=other").status_code == 403


def test_messages_are_escaped(app_parts: Any) -> None:
    hub, client, _ = app_parts
    response = client.post(
        "/v1/events",
        headers={"X-API-Key": ADMIN_KEY},
        json={
            "timestamp": NOW - 60 * 10**9,
            "stack_name": "acme",
            "event_type": "log",
            "level": "error",
            "message": "<script>alert(1)</script>",
        },
    )
    assert response.status_code == 200
    hub.flush()
    sign_in(client)
    page = client.get("/logs")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text


def test_plotly_is_served_from_the_package(app_parts: Any) -> None:
    _, client, _ = app_parts
    response = client.get("/static/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["cache-control"]
    assert response.headers["content-type"].startswith("text/javascript")
    assert b"plotly.js" in response.content[:200]  # httpx decoded the gzip
    raw = client.get("/static/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content)
    assert client.get("/static/console.js").status_code == 200


def _request(method: str, path: str, headers: dict[str, str], app: Any) -> Request:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "app": app,
        "scheme": "http",
        "server": ("testserver", 80),
    }
    return Request(scope)


def test_session_principal_reads_only(app_parts: Any) -> None:
    _, client, _ = app_parts
    sign_in(client)
    session = client.cookies[COOKIE_NAME]
    cookie = {"cookie": f"{COOKIE_NAME}={session}"}
    app = client.app
    session_principal = SESSIONS.get(app)  # what the console gave the API
    assert session_principal(_request("GET", "/api/v1/overview", cookie, app)) is not None
    assert session_principal(_request("HEAD", "/api/v1/tools", cookie, app)) is not None
    assert session_principal(_request("POST", "/api/v1/silences", cookie, app)) is None
    assert session_principal(_request("GET", "/v1/events", cookie, app)) is None
    with_key = {**cookie, "x-api-key": "slk_other"}
    assert session_principal(_request("GET", "/api/v1/overview", with_key, app)) is None


def test_safe_next() -> None:
    assert _safe_next("/costs?by=day") == "/costs?by=day"
    for bad in ("https://evil.example", "//evil.example", "/\\evil", "/login", "", None):
        assert _safe_next(bad) == "/"


def test_parse_params() -> None:
    p = parse_params({"range": "bogus", "refresh": "7", "stack": "  acme ", "model": ""})
    assert (p.range, p.refresh, p.stack, p.model) == ("24h", 0, "acme", None)
    assert p.api_params() == {"since": "24h", "step": 3600, "stack": "acme"}
    assert parse_params({"range": "7d"}).step == 21600
    assert "refresh=30" in parse_params({"refresh": "30"}).query()


def test_span_tree_nests_spans_and_logs() -> None:
    events = [
        {"event_id": "log", "event_type": "log", "span_id": "b", "timestamp_ns": 4},
        {
            "event_id": "child",
            "event_type": "llm_call",
            "span_id": "b",
            "parent_span_id": "a",
            "timestamp_ns": 2,
            "duration_ms": 5.0,
        },
        {
            "event_id": "root",
            "event_type": "span",
            "span_id": "a",
            "timestamp_ns": 1,
            "duration_ms": 10.0,
        },
        {
            "event_id": "orphan",
            "event_type": "span",
            "span_id": "z",
            "parent_span_id": "missing",
            "timestamp_ns": 3,
        },
        {
            "event_id": "loop1",
            "event_type": "span",
            "span_id": "x",
            "parent_span_id": "y",
            "timestamp_ns": 5,
        },
        {
            "event_id": "loop2",
            "event_type": "span",
            "span_id": "y",
            "parent_span_id": "x",
            "timestamp_ns": 6,
        },
    ]
    rows = [(r.event["event_id"], r.depth) for r in span_tree(events)]
    assert rows[:4] == [("root", 0), ("child", 1), ("log", 2), ("orphan", 0)]
    assert {name for name, _ in rows} == {e["event_id"] for e in events}


def test_a_bound_admin_console_is_confined_to_its_stack(app_parts: Any) -> None:
    hub, client, _ = app_parts
    from stacklens.alerting.silences import SilenceStore

    store = SilenceStore(hub.metadata, clock=hub.clock)
    bravo = store.add(['stack_name="bravo"'], duration_ns=3600 * 10**9, comment="bravo-note")
    _, key = hub.keyring.create("admin", stack="acme")
    sign_in(client, key)
    page = client.get("/alerts")
    assert page.status_code == 200 and "bravo-note" not in page.text
    token = csrf_of(page.text)
    refused = client.post(
        "/alerts/silences", data={"matchers": 'stack_name="bravo"', "csrf": token}
    )
    assert refused.status_code == 403
    expire = client.post(f"/alerts/silences/{bravo.id}/expire", data={"csrf": token})
    assert expire.status_code == 404 and bravo.id in {s.id for s in store.active()}
    made = client.post("/alerts/silences", data={"matchers": 'alertname=~".+"', "csrf": token})
    assert made.status_code == 303
    [mine] = store.list(stack="acme")
    assert ("stack_name", "=", "acme") in [(m.name, m.op, m.value) for m in mine.matchers]
    for path in ("/admin/keys", "/admin/stacks"):
        assert (
            client.post(path, data={"role": "read", "name": "x", "csrf": token}).status_code == 403
        )


def test_console_billing_month_is_bounded(app_parts: Any) -> None:
    _, client, _ = app_parts
    sign_in(client)
    response = client.get("/costs/export?month=9999-12")
    assert response.status_code == 400 and "month" in response.text
