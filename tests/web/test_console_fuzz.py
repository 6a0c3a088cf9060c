"""Every console route, fuzzed (the OpenAPI fuzz suite does not see them: they are
out of the schema). Routes come from the app; query parameters are the page filters
(:class:`PageParams`) plus what each route declares; form posts carry the fields of
the console's own forms and, mostly, a valid CSRF token of a signed-in admin session.
Nothing may answer 5xx (a server exception fails the test too)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacklens.testing import ADMIN_KEY, hub_config
from stacklens.testing.dataset import events
from stacklens.testing.web import csrf_of, sign_in_client
from stacklens.web import STATIC_DIR
from stacklens.web.filters import PageParams

TEMPLATES = STATIC_DIR.parent / "templates"
#: Every field name a console form posts (from the templates themselves).
FORM_FIELDS = sorted(
    set(re.findall(r'name="([a-z_]+)"', "".join(p.read_text() for p in TEMPLATES.glob("*.html"))))
)
#: Query parameters pages read from the query string (not declared on the route).
PAGE_PARAMS = (*PageParams.__struct_fields__, "sort", "next")

text = st.text(max_size=30) | st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1h",
        "7d",
        "30d",
        "15m",
        "-cost",
        "health",
        "2026-01-10T12:00:00Z",
        "2026-13",
        "1768046400000000000",
        "acme-chat",
        "all",
        "error",
        "day",
        "admin",
        'alertname="X"',
        "<script>",
        "x" * 300,
    ]
)
#: Rows shaped like those that once broke a page (a call with input tokens only).
SEEDED = [
    {
        "timestamp": "2026-01-10T12:00:00Z",
        "stack_name": "fuzz-stack",
        "event_type": "llm_call",
        "session_id": "fuzz-session",
        "trace_id": "fuzz-trace",
        "data": {"model": "<b>m</b>", "tokens_in": 5},
    }
]
#: Path segments that name something, besides arbitrary text.
known = st.sampled_from(["fuzz-stack", "fuzz-session", "fuzz-trace", "does-not-exist"])

header = st.sampled_from(["application/x-www-form-urlencoded", "text/plain", ""]) | st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40
)


class Fuzzed:
    def __init__(self, hub: Any, client: TestClient) -> None:
        self.hub = hub
        self.client = client
        self.csrf = ""
        self.login_csrf = ""
        self.sign_in()

    def sign_in(self) -> None:
        # Fuzzed sign-ins fail on purpose: the backoff must not lock the fixture out.
        throttle = getattr(self.hub_console, "login_throttle", None)
        if throttle is not None:
            throttle.succeeded("testclient")
        self.client.cookies.clear()
        self.login_csrf = csrf_of(self.client.get("/login").text)
        assert sign_in_client(self.client, ADMIN_KEY).status_code == 303
        self.csrf = csrf_of(self.client.get("/alerts").text)

    @property
    def hub_console(self) -> Any:
        return self.client.app.state.console  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    from stacklens.server import Hub, create_app

    data_dir: Path = tmp_path_factory.mktemp("fuzz-console") / "data"
    hub = Hub(hub_config(data_dir, alerting_enabled=True))
    hub.bootstrap_admin()
    app = create_app(hub)
    with TestClient(app, follow_redirects=False, raise_server_exceptions=True) as client:
        seeded = client.post(
            "/v1/events", json=[*events(), *SEEDED], headers={"X-API-Key": ADMIN_KEY}
        )
        assert seeded.status_code == 200 and not seeded.json()["rejected"], seeded.text
        hub.flush()
        yield Fuzzed(hub, client)


def _walk(routes: list[Any]) -> Iterator[Any]:
    # FastAPI >= 0.165 keeps included routers as nodes; older versions flatten them.
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _walk(inner.routes)
        else:
            yield route


def console_routes(app: Any) -> list[tuple[str, str, list[str]]]:
    """``(method, path, query names)`` of every route left out of the OpenAPI schema
    (the console's routers have no prefix)."""
    found = []
    for route in _walk(app.routes):
        if not isinstance(route, APIRoute) or route.include_in_schema:
            continue
        declared = [p.name for p in route.dependant.query_params]
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, route.path, sorted({*declared, *PAGE_PARAMS})))
    return found


def test_the_console_routes_are_found(fuzzed: Fuzzed) -> None:
    routes = {(m, p) for m, p, _ in console_routes(fuzzed.client.app)}
    assert {
        ("GET", "/"),
        ("GET", "/stacks"),
        ("GET", "/stacks/{stack}"),
        ("GET", "/sessions/{session_id}"),
        ("GET", "/costs/export"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("POST", "/alerts/silences"),
        ("POST", "/admin/keys/{key_id}/revoke"),
    } <= routes
    assert {"csrf", "key", "matchers", "duration", "role", "name"} <= set(FORM_FIELDS)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_console_route_answers_5xx(fuzzed: Fuzzed, data: st.DataObject) -> None:
    client = fuzzed.client
    method, path, names = data.draw(st.sampled_from(console_routes(client.app)))
    segment = known | st.text(min_size=1, max_size=20).map(lambda t: quote(t, safe=""))
    concrete = re.sub(r"\{[^}]+\}", lambda _: data.draw(segment), path)
    params = {name: data.draw(text) for name in names if data.draw(st.booleans())}
    kwargs: dict[str, Any] = {"params": params}
    if method == "POST":
        form = {name: data.draw(text) for name in FORM_FIELDS if data.draw(st.booleans())}
        token = fuzzed.login_csrf if path == "/login" else fuzzed.csrf
        if data.draw(st.integers(0, 3)):  # mostly a valid token: get past the check
            form["csrf"] = token
        if data.draw(st.integers(0, 7)):
            kwargs["data"] = form
        else:  # not a form at all
            kwargs["content"] = data.draw(st.binary(max_size=64))
            kwargs["headers"] = {"Content-Type": data.draw(header)}
    response = client.request(method, concrete, **kwargs)
    assert response.status_code < 500, (method, concrete, params, response.text[:300])
    if method == "POST" and path in ("/logout", "/login") and response.status_code == 303:
        fuzzed.sign_in()  # signed out (or in afresh): keep fuzzing as the admin
