"""Test helpers for alerting: rows loaded as the loader loads them, a loopback HTTP
receiver that records every notification posted to it, and an in-process hub whose alert
alerting (evaluator and manager) the test ticks by hand."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec

from stacklens.schema import EventRow, MetricRow
from stacklens.store.duckdb import DuckDBStore

__all__ = ["Recorder", "add_points", "event", "hub_with_engine", "load", "point"]


_segment = itertools.count(1)
_ids = itertools.count(1)


def event(
    ts_ns: int, event_type: str = "llm_call", stack: str = "alpha", **fields: Any
) -> EventRow:
    return EventRow(
        event_id=f"ev{next(_ids):09d}", ts=ts_ns, stack_name=stack, event_type=event_type, **fields
    )


def load(store: DuckDBStore, tmp_path: Path, rows: list[Any], stream: str = "events") -> None:
    """Insert rows the way the loader does: a sealed NDJSON spool segment."""
    number = next(_segment)
    path = tmp_path / f"segment-{number:06d}.ndjson"
    path.write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in rows))
    store.load_segments(stream, [(number, path)])


def point(
    ts_ns: int,
    name: str,
    value: float,
    /,
    stack: str = "alpha",
    service: str | None = None,
    **attributes: str,
) -> MetricRow:
    """One gauge point of the ``metric_points`` table (OTel metrics)."""
    return MetricRow(
        point_id=f"pt{next(_ids):09d}",
        ts=ts_ns,
        stack_name=stack,
        name=name,
        kind="gauge",
        service=service,
        attributes=json.dumps(attributes),
        value=float(value),
    )


def add_points(store: DuckDBStore, tmp_path: Path, points: list[MetricRow]) -> None:
    load(store, tmp_path, points, stream="metrics")


class Recorder:
    """A loopback HTTP server recording every JSON body posted to it."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[Any] = []
        self.paths: list[str] = []
        self.statuses = [status]
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                status = (
                    recorder.statuses.pop(0) if len(recorder.statuses) > 1 else recorder.statuses[0]
                )
                if status < 300:
                    recorder.bodies.append(json.loads(body))
                    recorder.paths.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"success"}')

            def do_GET(self) -> None:
                status = recorder.statuses[0]
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def hub_with_engine(data_dir: Path) -> Iterator[tuple[Any, Any, Any, Any]]:
    """``(hub, client, engine, clock)``: an in-process hub (``TestClient`` with the test
    admin key) on a manual clock, with the default rules in an alerting service that delivers
    nothing and runs only when the test calls ``engine.tick()``."""
    from fastapi.testclient import TestClient

    from stacklens.alerting.config_file import parse_alerting_config
    from stacklens.alerting.defaults import default_rules
    from stacklens.alerting.wiring import build_alerting
    from stacklens.api.alerts import ALERTING
    from stacklens.server import Hub, create_app
    from stacklens.testing import ADMIN_KEY, ManualClock, hub_config

    clock = ManualClock()
    hub = Hub(hub_config(data_dir, alerting_enabled=False), clock=clock)
    hub.bootstrap_admin()
    app = create_app(hub)
    engine = build_alerting(
        default_rules(),
        parse_alerting_config("route: {receiver: none}\nreceivers: [{name: none}]\n"),
        reader=hub.store,
        metadata=hub.metadata,
        clock=clock,
    )
    ALERTING.provide(app, engine)
    try:
        with TestClient(app) as client:
            hub.alerts = engine  # the console reads the engine from the hub
            client.headers["X-API-Key"] = ADMIN_KEY
            yield hub, client, engine, clock
    finally:
        engine.stop()
