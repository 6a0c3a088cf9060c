"""Cross-stack probe: keys bound to ``alpha`` (admin and read) against ``bravo``.

The state-changing routes are derived from the app's own route table, so a new route
without a probe here fails :func:`test_every_state_changing_route_is_probed`; each API
one must also declare an :func:`stacklens.api.authz.mutation` dependency."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from stacklens.alerting.alerting_service import AlertingService
from stacklens.alerting.notify_log import Attempt
from stacklens.api.authz import MARK, group_in_stack
from stacklens.metadata.keys import Principal, Role
from stacklens.testing import ADMIN_KEY, ManualClock
from stacklens.testing.alerting import hub_with_engine
from stacklens.testing.remote_write import HEADERS as REMOTE_WRITE_HEADERS
from stacklens.testing.remote_write import write_body

S = 10**9
MUTATING = {"POST", "PUT", "DELETE", "PATCH"}
#: Sign-in and sign-out change only the caller's own session.
SESSION_ONLY = {("POST", "/login"), ("POST", "/logout")}


@dataclass
class World:
    hub: Any
    app: Any
    engine: AlertingService
    clock: ManualClock
    keys: dict[str, str]
    bravo_silence: str
    global_silence: str

    def client(self, who: str) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        client.headers["X-API-Key"] = self.keys[who]
        return client

    def console(self, who: str) -> tuple[TestClient, str]:
        """A console session of ``who`` and its CSRF token."""
        client = TestClient(self.app, follow_redirects=False)
        form = client.get("/login")
        client.post(
            "/login", data={"csrf": _csrf(form.text), "key": self.keys[who], "next": "/alerts"}
        )
        return client, _csrf(client.get("/alerts").text)

    def silences(self) -> dict[str, Any]:
        return {s.id: s for s in self.engine.silences.list(include_expired=True)}


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:300]
    return match.group(1)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with hub_with_engine(tmp_path / "data") as (hub, root, engine, clock):
        app = root.app
        body = [
            {"timestamp": clock() - i * S, "stack_name": "bravo", "event_type": "error"}
            for i in range(60)
        ]
        assert root.post("/v1/events", json=body).status_code in (200, 202)
        hub.flush()
        engine.tick()
        for stack in ("alpha", "bravo"):
            hub.stacks.ensure({stack})
            put = root.put(f"/api/v1/budgets/{stack}", json={"monthly_usd": 10.0})
            assert put.status_code == 200
        bravo = root.post(
            "/api/v1/silences",
            json={"matchers": ['stack_name="bravo"'], "duration": "2h", "comment": "bravo-note"},
        ).json()["silenceID"]
        every = root.post(
            "/api/v1/silences",
            json={"matchers": ['alertname="HighErrorRate"'], "duration": "2h"},
        ).json()["silenceID"]
        engine.notify_log.record(
            Attempt(clock(), "none", "none/0", '{}:{stack_name="bravo"}', "firing", 1, 1,
                    "success", "none", None, 1.0)
        )  # fmt: skip
        keys = {"root": ADMIN_KEY}
        for role in ("admin", "read"):
            keys[role] = hub.keyring.create(role, stack="alpha")[1]
        yield World(hub, app, engine, clock, keys, bravo, every)


def all_routes(routes: Any) -> Iterator[Any]:
    """The app's routes, with included routers flattened (FastAPI keeps them nested)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from all_routes(included.routes)
        else:
            yield route


def mutating_routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for route in all_routes(app.routes):
        for method in getattr(route, "methods", None) or ():
            if method in MUTATING:
                found.add((method, route.path))
    return found


def _dependency_marks(route: APIRoute) -> set[str]:
    marks: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call is not None and hasattr(dependant.call, MARK):
            marks.add(getattr(dependant.call, MARK))
        pending.extend(dependant.dependencies)
    return marks


# -- the probes: each runs as the alpha-bound ``who`` ("admin" or "read") --------------------
def _budget_unchanged(w: World) -> None:
    budgets = {
        b["stack_name"]: b for b in w.client("root").get("/api/v1/budgets").json()["budgets"]
    }
    assert budgets["bravo"]["monthly_usd"] == 10.0


def probe_put_budget(w: World, who: str) -> None:
    response = w.client(who).put("/api/v1/budgets/bravo", json={"monthly_usd": 99999.0})
    assert response.status_code == 403, response.text
    _budget_unchanged(w)
    if who == "admin":  # its own stack still works
        assert (
            w.client(who).put("/api/v1/budgets/alpha", json={"monthly_usd": 5}).status_code == 200
        )


def probe_delete_budget(w: World, who: str) -> None:
    assert w.client(who).delete("/api/v1/budgets/bravo").status_code == 403
    _budget_unchanged(w)


def probe_backfill(w: World, who: str) -> None:
    response = w.client(who).post("/api/v1/costs/backfill", params={"since": "2025-01-01"})
    assert response.status_code == 403, response.text
    assert (
        w.client("root").post("/api/v1/costs/backfill", params={"since": "2025-01-01"}).status_code
        == 200
    )


def _bravo_unsilenced(w: World, before: dict[str, Any]) -> None:
    """No silence created or expired by the probe mutes a bravo alert."""
    now = w.clock()
    labels = {"alertname": "HighErrorRate", "stack_name": "bravo", "severity": "warning"}
    for silence in w.silences().values():
        if silence.id not in before:
            assert not silence.matches(labels), silence
            assert ("stack_name", "=", "alpha") in [
                (m.name, m.op, m.value) for m in silence.matchers
            ]
    assert w.silences()[w.bravo_silence].active(now)
    assert w.silences()[w.global_silence].active(now)


def _silence_attempts(post: Callable[[list[str]], int], who: str, w: World, ok: int) -> None:
    before = w.silences()
    for matchers in (
        ['stack_name="bravo"'],
        ['stack_name=~".+"'],
        ['stack_name!="alpha"'],
        ['alertname="HighErrorRate"', 'stack_name=~"alpha|bravo"'],
    ):
        assert post(matchers) in (403, 404), matchers
    _bravo_unsilenced(w, before)
    # A bound admin's broad silence is confined to alpha (the enforced matcher).
    assert post(['alertname=~".+"']) == (ok if who == "admin" else 403)
    _bravo_unsilenced(w, before)


def probe_api_create_silence(w: World, who: str) -> None:
    client = w.client(who)

    def post(matchers: list[str]) -> int:
        body = {"matchers": matchers, "duration": "1h"}
        return client.post("/api/v1/silences", json=body).status_code

    _silence_attempts(post, who, w, 201)


def probe_api_expire_silence(w: World, who: str) -> None:
    before = w.silences()
    for silence in (w.bravo_silence, w.global_silence):
        assert w.client(who).delete(f"/api/v1/silences/{silence}").status_code in (403, 404)
    _bravo_unsilenced(w, before)


def probe_console_create_silence(w: World, who: str) -> None:
    client, token = w.console(who)

    def post(matchers: list[str]) -> int:
        data = {"matchers": "\n".join(matchers), "duration": "1h", "csrf": token}
        return client.post("/alerts/silences", data=data).status_code

    _silence_attempts(post, who, w, 303)


def probe_console_expire_silence(w: World, who: str) -> None:
    before = w.silences()
    client, token = w.console(who)
    for silence in (w.bravo_silence, w.global_silence):
        response = client.post(f"/alerts/silences/{silence}/expire", data={"csrf": token})
        assert response.status_code in (403, 404)
    _bravo_unsilenced(w, before)


def probe_console_create_key(w: World, who: str) -> None:
    client, token = w.console(who)
    before = len(w.hub.keyring.list())
    for data in ({"role": "admin"}, {"role": "admin", "stack": "bravo"}):
        assert client.post("/admin/keys", data={**data, "csrf": token}).status_code == 403
    assert len(w.hub.keyring.list()) == before


def probe_console_revoke_key(w: World, who: str) -> None:
    client, token = w.console(who)
    bravo_record, _ = w.hub.keyring.create("read", stack="bravo")
    response = client.post(f"/admin/keys/{bravo_record.key_id}/revoke", data={"csrf": token})
    assert response.status_code == 403
    assert {k.key_id: k for k in w.hub.keyring.list()}[bravo_record.key_id].revoked_ns is None


def probe_console_create_stack(w: World, who: str) -> None:
    client, token = w.console(who)
    response = client.post("/admin/stacks", data={"name": "charlie", "csrf": token})
    assert response.status_code == 403
    assert "charlie" not in {s.name for s in w.hub.stacks.list()}


def probe_backup(w: World, who: str) -> None:
    # A backup holds every stack's data: a key bound to alpha may not take one.
    assert w.client(who).post("/api/v1/backup").status_code == 403
    assert not (w.hub.config.data_dir / "backups").exists()


def probe_quarantine(w: World, who: str) -> None:
    # The quarantine holds rows of every stack: a key bound to alpha may neither list
    # nor retry it.
    client = w.client(who)
    assert client.get("/api/v1/quarantine").status_code == 403
    assert client.post("/api/v1/quarantine/events/1-1/retry").status_code == 403


def probe_erase_user(w: World, who: str) -> None:
    # A user's data spans every stack: a key bound to alpha may not erase it.
    client = w.client(who)
    assert client.delete("/api/v1/users/someone").status_code == 403
    assert w.hub.eraser.audit.list() == []


def _ingest_probe(path: str, header: str, content_type: str, body: bytes) -> Callable[..., None]:
    def probe(w: World, who: str) -> None:
        client = w.client(who)
        headers = {header: "bravo", "Content-Type": content_type}
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 403, (path, response.text)

    return probe


def probe_remote_write(w: World, who: str) -> None:
    """Prometheus remote write: neither the header nor a series' stack_name label lets an
    alpha key write bravo, and nothing of bravo is stored."""
    client = w.client(who)
    now_ms = w.clock() // 1_000_000
    by_header = write_body([({"__name__": "probe_metric"}, [(now_ms, 1.0)])])
    by_label = write_body([({"__name__": "probe_metric", "stack_name": "bravo"}, [(now_ms, 1.0)])])
    path = "/prometheus/api/v1/write"
    for body, headers in ((by_header, {"X-Stack-Name": "bravo"}), (by_label, {})):
        response = client.post(path, content=body, headers={**REMOTE_WRITE_HEADERS, **headers})
        assert response.status_code == 403, response.text
    w.hub.flush()
    stored = w.hub.store.query_metric_points(
        name="probe_metric", stacks=("bravo",), since_ns=None, until_ns=None, limit=10
    )
    assert stored == []


def _prometheus_probe(
    path: str, form: dict[str, str], marker: str | None = "bravo"
) -> Callable[[World, str], None]:
    """A read (POST form, as Grafana sends) by an alpha-bound key: ``marker`` (bravo's
    series), which the unbound root key sees, never appears in the answer."""

    def probe(w: World, who: str) -> None:
        now_s = w.clock() // S
        data = {**form, "start": str(now_s - 600), "end": str(now_s), "step": "60"}
        for key in ("root", who):
            response = w.client(key).post(f"/prometheus/api/v1/{path}", data=data)
            assert response.status_code == 200, response.text
            if marker is not None:
                assert (marker in response.text) == (key == "root"), (key, response.text[:300])
        assert "bravo" not in response.text

    return probe


def _langfuse_probe(path: str, body: bytes) -> Callable[..., None]:
    """Langfuse SDKs name the stack by the public key of Basic auth (the secret is the
    key): ``bravo:<alpha's key>`` is refused, and so is ``X-Stack-Name: bravo``."""
    by_header = _ingest_probe(path, "X-Stack-Name", "application/json", body)

    def probe(w: World, who: str) -> None:
        credentials = base64.b64encode(f"bravo:{w.keys[who]}".encode()).decode()
        client = TestClient(w.app, follow_redirects=False)
        headers = {"Authorization": f"Basic {credentials}", "Content-Type": "application/json"}
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 403, (path, response.text)
        by_header(w, who)

    return probe


PROMETHEUS_PROBES: dict[tuple[str, str], Callable[[World, str], None]] = {
    ("POST", "/prometheus/api/v1/query"): _prometheus_probe(
        "query", {"query": "stacklens_stack_events_total"}
    ),
    ("POST", "/prometheus/api/v1/query_range"): _prometheus_probe(
        "query_range", {"query": "sum by (stack_name) (opencode_errors_total)"}
    ),
    ("POST", "/prometheus/api/v1/series"): _prometheus_probe(
        "series", {"match[]": "opencode_errors_total"}
    ),
    ("POST", "/prometheus/api/v1/labels"): _prometheus_probe(
        "labels", {"match[]": "opencode_errors_total"}, marker="stack_name"
    ),
    ("POST", "/prometheus/api/v1/query_exemplars"): _prometheus_probe(
        "query_exemplars", {"query": "opencode_errors_total"}, marker=None
    ),
}


def _langsmith_probe(
    method: str, path: str, body: bytes, content_type: str = "application/json"
) -> Callable[..., None]:
    def probe(w: World, who: str) -> None:
        headers = {"X-Stack-Name": "bravo", "Content-Type": content_type}
        response = w.client(who).request(method, path, content=body, headers=headers)
        assert response.status_code == 403, (path, response.text)

    return probe


_RUN = b'{"id": "r-1", "name": "x", "run_type": "chain", "start_time": "2026-01-01T00:00:00Z"}'

PROBES: dict[tuple[str, str], Callable[[World, str], None]] = {
    ("PUT", "/api/v1/budgets/{stack}"): probe_put_budget,
    ("DELETE", "/api/v1/budgets/{stack}"): probe_delete_budget,
    ("POST", "/api/v1/costs/backfill"): probe_backfill,
    ("POST", "/api/v1/backup"): probe_backup,
    ("POST", "/api/v1/quarantine/{stream}/{entry_id}/retry"): probe_quarantine,
    ("DELETE", "/api/v1/users/{user_id}"): probe_erase_user,
    ("POST", "/api/v1/silences"): probe_api_create_silence,
    ("DELETE", "/api/v1/silences/{silence_id}"): probe_api_expire_silence,
    ("POST", "/alerts/silences"): probe_console_create_silence,
    ("POST", "/alerts/silences/{silence_id}/expire"): probe_console_expire_silence,
    ("POST", "/admin/keys"): probe_console_create_key,
    ("POST", "/admin/keys/{key_id}/revoke"): probe_console_revoke_key,
    ("POST", "/admin/stacks"): probe_console_create_stack,
    ("POST", "/v1/events"): _ingest_probe("/v1/events", "X-Stack-Name", "application/json", b"[]"),
    ("POST", "/ingest"): _ingest_probe("/ingest", "X-Stack-Name", "application/json", b"[]"),
    ("POST", "/v1/traces"): _ingest_probe("/v1/traces", "X-Stack-Name", "application/json", b"{}"),
    ("POST", "/v1/logs"): _ingest_probe("/v1/logs", "X-Stack-Name", "application/json", b"{}"),
    ("POST", "/v1/metrics"): _ingest_probe(
        "/v1/metrics", "X-Stack-Name", "application/json", b"{}"
    ),
    ("POST", "/prometheus/api/v1/write"): probe_remote_write,
    ("POST", "/loki/api/v1/push"): _ingest_probe(
        "/loki/api/v1/push", "X-Scope-OrgID", "application/json", b"{}"
    ),
    ("POST", "/api/v2/spans"): _ingest_probe(
        "/api/v2/spans", "X-Stack-Name", "application/json", b"[]"
    ),
    ("POST", "/api/public/ingestion"): _langfuse_probe("/api/public/ingestion", b'{"batch": []}'),
    ("POST", "/api/public/scores"): _langfuse_probe(
        "/api/public/scores", b'{"traceId": "t", "name": "n", "value": 1}'
    ),
    ("POST", "/api/public/otel/v1/traces"): _langfuse_probe("/api/public/otel/v1/traces", b"{}"),
    ("POST", "/runs"): _langsmith_probe("POST", "/runs", _RUN),
    ("PATCH", "/runs/{run_id}"): _langsmith_probe(
        "PATCH", "/runs/r-1", b'{"end_time": "2026-01-01T00:00:01Z"}'
    ),
    ("POST", "/runs/batch"): _langsmith_probe("POST", "/runs/batch", b'{"post": [], "patch": []}'),
    ("POST", "/runs/multipart"): _langsmith_probe(
        "POST",
        "/runs/multipart",
        b'--b\r\nContent-Disposition: form-data; name="post.r-1"\r\n'
        b"Content-Type: application/json\r\n\r\n" + _RUN + b"\r\n--b--\r\n",
        content_type="multipart/form-data; boundary=b",
    ),
    ("POST", "/feedback"): _langsmith_probe(
        "POST", "/feedback", b'{"run_id": "r-1", "key": "k", "score": 1}'
    ),
    **PROMETHEUS_PROBES,
}


def test_every_state_changing_route_is_probed(world: World) -> None:
    routes = mutating_routes(world.app) - SESSION_ONLY
    assert routes, "no state-changing routes found"
    assert routes - set(PROBES) == set(), "add a cross-stack probe for these routes"


#: Ingest routes that live under ``/api/`` because their protocol puts them there (Zipkin,
#: Langfuse). They authorize in the ingest service's admission (write role, the key's
#: stack binding), not by a ``mutation`` scope, and each has a cross-stack probe above.
INGEST_UNDER_API = {
    ("POST", "/api/v2/spans"),
    ("POST", "/api/public/ingestion"),
    ("POST", "/api/public/scores"),
    ("POST", "/api/public/otel/v1/traces"),
}


def test_every_api_state_change_declares_its_authorization(world: World) -> None:
    unmarked = {
        (method, route.path)
        for route in all_routes(world.app.routes)
        if isinstance(route, APIRoute) and route.path.startswith("/api/")
        for method in route.methods
        if method in MUTATING and not _dependency_marks(route)
    }
    assert unmarked - INGEST_UNDER_API == set()
    assert set(PROBES) >= INGEST_UNDER_API


@pytest.mark.parametrize("who", ["admin", "read"])
@pytest.mark.parametrize("route", sorted(PROBES), ids=lambda r: f"{r[0]} {r[1]}")
def test_alpha_keys_cannot_change_bravo(world: World, route: tuple[str, str], who: str) -> None:
    PROBES[route](world, who)


# -- alert metadata: what a bound read key sees ----------------------------------------------
def alert_read_paths(app: Any) -> list[str]:
    paths = [
        route.path
        for route in all_routes(app.routes)
        if isinstance(route, APIRoute) and "alerts" in route.tags and "GET" in route.methods
    ]
    return [*paths, "/alerts"]  # and the console page


def test_alert_metadata_stays_in_its_stack(world: World) -> None:
    paths = alert_read_paths(world.app)
    assert {"/api/v1/silences", "/api/v1/notifications", "/api/v1/rules"} <= set(paths)
    root = world.client("root")
    seen_by_root = {p: root.get(p).text for p in paths if p.startswith("/api/")}
    for path in ("/api/v1/silences", "/api/v1/notifications"):
        assert "bravo" in seen_by_root[path], path  # there is something to leak
    reader = world.client("read")
    console, _ = world.console("read")
    for path in paths:
        response = (console if not path.startswith("/api/") else reader).get(path)
        assert response.status_code == 200, (path, response.text[:200])
        assert "bravo" not in response.text, path
    rules = reader.get("/api/v1/rules").json()["groups"]
    counts = {r["name"]: r["alerts"] for g in rules for r in g["rules"]}
    assert counts["HighErrorRate"] == {"pending": 0, "firing": 0}
    root_rules = root.get("/api/v1/rules").json()["groups"]
    root_counts = {r["name"]: r["alerts"] for g in root_rules for r in g["rules"]}
    assert root_counts["HighErrorRate"]["pending"] == 1


def test_a_bound_admin_silence_is_confined_and_listed_for_its_stack(world: World) -> None:
    admin = world.client("admin")
    made = admin.post("/api/v1/silences", json={"matchers": ['alertname=~".+"'], "duration": "1h"})
    assert made.status_code == 201, made.text
    [mine] = admin.get("/api/v1/silences").json()["silences"]
    assert mine["id"] == made.json()["silenceID"]
    assert {"name": "stack_name", "value": "alpha", "isRegex": False, "isEqual": True} in mine[
        "matchers"
    ]
    assert admin.delete(f"/api/v1/silences/{mine['id']}").status_code == 200


def test_group_in_stack() -> None:
    alpha = Principal("k", Role.READ, "alpha")
    assert group_in_stack(alpha, '{}:{alertname="X", stack_name="alpha"}')
    assert group_in_stack(alpha, '{}/{stack_name="alpha"}:{alertname="X"}')
    assert not group_in_stack(alpha, '{}:{alertname="X"}')
    assert not group_in_stack(alpha, '{}:{stack_name="alphabet"}')
    assert not group_in_stack(alpha, '{}:{x="stack_name=\\"alpha\\""}')
    assert not group_in_stack(alpha, '{}/{stack_name!="alpha"}:{}')
    assert group_in_stack(Principal("k", Role.READ), '{}:{stack_name="bravo"}')
