"""Test helpers for several hub replicas on one PostgreSQL.

- :class:`WebhookSink`: a loopback HTTP receiver that records every notification with
  its ``Idempotency-Key`` (dedup on it is what a receiver does to see each notification
  once), can hang on a chosen group's next delivery (so a leader can be killed while
  sending), and answers the health probes of the stacks pointed at it as down.
- :func:`replica_env`, :func:`write_failover_alerting`: what each
  :class:`~stacklens.testing.HubProcess` replica is started with.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["Received", "WebhookSink", "replica_env", "write_failover_alerting"]


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() at arrival
    key: str
    group_labels: dict[str, str]
    status: str
    body: dict[str, Any]


class WebhookSink:
    """Records each POST at arrival (before answering). ``GET`` (a health probe) answers
    ``probe_status``."""

    def __init__(self, *, probe_status: int = 503) -> None:
        self.received: list[Received] = []
        self.probe_status = probe_status
        self.hung = threading.Event()  # set when the hanging delivery has arrived
        self._release = threading.Event()
        self._hang_group: tuple[str, str] | None = None
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                item = Received(
                    time.monotonic(),
                    self.headers.get("Idempotency-Key", ""),
                    dict(body.get("groupLabels") or {}),
                    str(body.get("status")),
                    body,
                )
                with sink._lock:
                    sink.received.append(item)
                    hang = sink._hang_group is not None and (
                        item.group_labels.get(sink._hang_group[0]) == sink._hang_group[1]
                    )
                    if hang:
                        sink._hang_group = None
                if hang:
                    sink.hung.set()
                    sink._release.wait(60)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"status":"success"}')
                except OSError:
                    pass  # the sender died while this one hung: nobody to answer

            def do_GET(self) -> None:
                self.send_response(sink.probe_status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def hang_next(self, label: str, value: str) -> None:
        """Hold the next delivery whose group has ``label=value`` unanswered until
        :meth:`release`."""
        with self._lock:
            self._hang_group = (label, value)

    def release(self) -> None:
        self._release.set()

    def for_group(self, label: str, value: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.group_labels.get(label) == value]

    def unique_keys(self) -> set[str]:
        """What an idempotent receiver acts on: one notification per key."""
        with self._lock:
            return {r.key for r in self.received}

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def write_failover_alerting(
    directory: Path, hook_url: str, interval: str = "1s"
) -> dict[str, Path]:
    """A rule firing for every registered stack whose health probe fails (evaluated every
    ``interval``, no ``for``), grouped per stack, to one webhook at ``hook_url``."""
    directory.mkdir(parents=True, exist_ok=True)
    rules = directory / "rules.yaml"
    rules.write_text(
        f"""\
groups:
  - name: replicas
    interval: {interval}
    rules:
      - alert: StackDown
        signal: stack_up
        params: {{heartbeat_timeout: 5m}}
        window: 1h
        by: [stack_name]
        op: "=="
        threshold: 0
        for: 0s
        labels: {{severity: critical}}
"""
    )
    config = directory / "alerting.yaml"
    config.write_text(
        f"""\
route:
  receiver: hook
  group_by: [alertname, stack_name]
  group_wait: 0s
  group_interval: {interval}
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: '{hook_url}/hook'
        send_resolved: false
notify: {{max_attempts: 1, timeout: 30s}}
"""
    )
    return {"rules": rules, "config": config}


def replica_env(
    metadata_url: str, files: dict[str, Path], probe_interval_s: float = 0.5
) -> dict[str, str]:
    """The environment of one replica: the shared metadata database, the failover rules
    (no default rules), fast health probes."""
    return {
        "STACKLENS_METADATA_URL": metadata_url,
        "STACKLENS_ALERT_RULES_FILE": str(files["rules"]),
        "STACKLENS_ALERTING_CONFIG_FILE": str(files["config"]),
        "STACKLENS_ALERT_DEFAULT_RULES": "false",
        "STACKLENS_ALERT_PROBE_INTERVAL_S": str(probe_interval_s),
    }
