"""Secrets planted in everything the hub ingests, through every protocol (native,
OTLP/HTTP, OTLP/gRPC, Loki, Zipkin, Prometheus remote write), and in the free text the
hub keeps (silences, stacks, key labels), never reach disk: every byte of the data
directory (spool, DuckDB file and WAL, metadata.sqlite) is searched for each secret's
raw, base64, hex and URL-encoded forms."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import grpc
import msgspec
from click.testing import CliRunner
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from stacklens.cli import main as cli
from stacklens.testing import ADMIN_KEY, free_port, in_process_hub
from stacklens.testing.remote_write import HEADERS as REMOTE_WRITE_HEADERS
from stacklens.testing.remote_write import write_body
from stacklens.testing.secrets import (
    ANTHROPIC,
    ARGS_TOKEN,
    BYTES_VALUE_KEY,
    DB_PASSWORD,
    DB_URL_PASSWORD,
    GITHUB_PAT_CLASSIC,
    HUB_KEY,
    OPENAI_PROJECT,
    QUERY_API_KEY,
    SECRETS,
    SHAPED_SECRETS,
    SHAPELESS_SECRETS,
    TWILIO_KEY,
    encoded_forms,
    secret_events,
)


def _kv(target: Any, key: str, value: str) -> None:
    kv = target.add()
    kv.key = key
    kv.value.string_value = value


def contexts(secret: str) -> list[tuple[str, str]]:
    """(attribute key, value) placements for one secret, as real data carries it."""
    placed = [
        ("api_key", secret),
        ("http.request.header.authorization", f"Bearer {secret}"),
        ("db.connection_string", f"postgresql://svc:{quote(secret, safe='')}@db.internal:5432/app"),
        ("process.command_line", f"OPENAI_API_KEY={secret} python agent.py"),
        ("config", json.dumps({"client": {"password": secret}})),
    ]
    if secret in SHAPED_SECRETS:  # found by shape anywhere, even bare and as a key
        placed += [("note", f"rotated {secret} yesterday"), (f"key_{secret}", "x")]
    return placed


def otlp_traces(now: int, trace_byte: int = 1) -> bytes:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    _kv(resource_spans.resource.attributes, "stack.name", "planted")
    _kv(resource_spans.resource.attributes, "deploy.token", SECRETS[0])
    spans = resource_spans.scope_spans.add().spans
    for i, secret in enumerate(SECRETS):
        span = spans.add()
        span.trace_id = bytes([trace_byte] * 15 + [i + 1])
        span.span_id = bytes([2] * 7 + [i + 1])
        span.name = f"chat with {secret}" if secret in SHAPED_SECRETS else "chat"
        span.start_time_unix_nano = now
        span.end_time_unix_nano = now + 1000
        _kv(span.attributes, "gen_ai.request.model", "gpt-4o-mini")
        _kv(
            span.attributes,
            "gen_ai.input.messages",
            json.dumps([{"role": "user", "content": f"use {secret}"}]),
        )
        for key, value in contexts(secret):
            _kv(span.attributes, key, value)
        if secret in SHAPED_SECRETS:  # bytesValue: as text, or inside binary
            span.attributes.add(key="payload").value.bytes_value = secret.encode()
            framed = b"\x00\x01" + secret.encode() + b"\xff"
            span.attributes.add(key="frame").value.bytes_value = framed
        span.status.message = f"upstream said: password={secret}"
    return request.SerializeToString()


def langfuse_otel(now: int) -> bytes:
    """The OTLP spans above as Langfuse's OTel SDKs send them: langfuse.* attributes."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(otlp_traces(now))
    for span, secret in zip(request.resource_spans[0].scope_spans[0].spans, SECRETS, strict=True):
        _kv(span.attributes, "langfuse.observation.type", "generation")
        _kv(span.attributes, "langfuse.observation.input", f"my key is {secret}")
        _kv(span.attributes, "langfuse.observation.output", json.dumps({"echo": secret}))
        _kv(span.attributes, "langfuse.observation.metadata.api_key", secret)
        span.span_id = bytes([3] * 7 + [span.span_id[-1]])  # rows of their own
    return request.SerializeToString()


def langfuse_batch(now: int) -> dict[str, Any]:
    """Langfuse ingestion envelopes with secrets in input, output and metadata."""
    stamp = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now // 10**9))}.000Z"
    batch: list[dict[str, Any]] = []
    for i, secret in enumerate(SECRETS):
        metadata = dict(contexts(secret))
        common = {"input": f"use {secret}", "output": {"reply": secret}, "metadata": metadata}
        for kind, body in (
            ("trace-create", {"id": f"t{i}", "timestamp": stamp, **common}),
            (
                "generation-create",
                {"id": f"g{i}", "traceId": f"t{i}", "startTime": stamp, "model": "m", **common},
            ),
            ("span-create", {"id": f"s{i}", "traceId": f"t{i}", "startTime": stamp, **common}),
            ("generation-update", {"id": f"late{i}", "endTime": stamp, **common}),
            (
                "score-create",
                {
                    "id": f"sc{i}",
                    "traceId": f"t{i}",
                    "name": "q",
                    "value": 1,
                    "comment": f"password={secret}",
                },
            ),
        ):
            batch.append({"id": f"{kind}-{i}", "type": kind, "timestamp": stamp, "body": body})
    return {"batch": batch}


def langsmith_multipart(now: int) -> tuple[bytes, str]:
    """LangSmith runs (post + patch parts) and feedback with secrets in inputs, outputs
    and extra, as the SDKs' multipart body."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + ".000000"
    boundary = "plantedBoundary"
    parts: list[tuple[str, Any]] = []
    for i, secret in enumerate(SECRETS):
        run_id = f"00000000-0000-4000-8000-{i:012d}"
        extra = {"metadata": dict(contexts(secret)), "note": f"key {secret}"}
        for run_type, suffix in (("llm", "a"), ("tool", "b"), ("chain", "c")):
            rid = run_id[:-1] + suffix
            parts.append((f"post.{rid}", {"name": "x", "run_type": run_type, "start_time": stamp}))
            parts.append((f"post.{rid}.inputs", {"prompt": f"use {secret}"}))
            parts.append((f"post.{rid}.extra", extra))
            parts.append((f"patch.{rid}", {"end_time": stamp, "error": f"failed: {secret}"}))
            parts.append((f"patch.{rid}.outputs", {"reply": secret}))
        parts.append(
            (
                f"feedback.{run_id}",
                {"id": run_id, "run_id": run_id, "key": "k", "comment": f"password={secret}"},
            )
        )
    chunks = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
        f"Content-Type: application/json\r\n\r\n".encode()
        + json.dumps(value).encode()
        + b"\r\n"
        for name, value in parts
    ]
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def otlp_logs(now: int) -> bytes:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    _kv(resource_logs.resource.attributes, "stack.name", "planted")
    records = resource_logs.scope_logs.add().log_records
    for secret in SECRETS:
        record = records.add()
        record.time_unix_nano = now
        record.severity_text = "ERROR"
        record.body.string_value = (
            f"export OPENAI_API_KEY={secret} && curl -H 'x-api-key: {secret}'"
        )
        for key, value in contexts(secret):
            _kv(record.attributes, key, value)
    return request.SerializeToString()


def otlp_metrics(now: int) -> bytes:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    _kv(resource_metrics.resource.attributes, "stack.name", "planted")
    metric = resource_metrics.scope_metrics.add().metrics.add()
    metric.name = "queue_depth"
    for secret in SECRETS:
        point = metric.gauge.data_points.add()
        point.time_unix_nano = now
        point.as_double = 3.0
        _kv(point.attributes, "password", secret)
        _kv(
            point.attributes,
            "endpoint",
            f"https://q:{quote(secret, safe='')}@queue.internal/p?token={quote(secret, safe='')}",
        )
    return request.SerializeToString()


def remote_write(now: int) -> bytes:
    """Prometheus remote write: secrets in label values, as a scrape target's labels or a
    relabelled URL would carry them (label names must be Prometheus label names)."""
    ms = now // 1_000_000
    return write_body(
        [
            (
                {
                    "__name__": "queue_depth",
                    "stack_name": "planted",
                    "job": "queue",
                    "password": secret,
                    "endpoint": f"https://q:{quote(secret, safe='')}@queue.internal/p"
                    f"?token={quote(secret, safe='')}",
                    "series": str(index),
                },
                [(ms, 3.0)],
            )
            for index, secret in enumerate(SECRETS)
        ]
    )


def zipkin_spans(now: int) -> list[dict[str, Any]]:
    """Zipkin v2 spans: every placement as a tag, in the name, an error and an exception."""
    return [
        {
            "traceId": f"{i + 1:032x}",
            "id": f"{i + 1:016x}",
            "name": f"chat with {secret}" if secret in SHAPED_SECRETS else "chat",
            "timestamp": now // 1000,
            "duration": 1500,
            "localEndpoint": {"serviceName": "edge"},
            "tags": {
                "stack.name": "planted",
                "deploy.token": secret,
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.input.messages": json.dumps([{"role": "user", "content": f"use {secret}"}]),
                "error": f"upstream said: password={secret}",
                **dict(contexts(secret)),
            },
            "annotations": [
                {
                    "timestamp": now // 1000,
                    "value": json.dumps(
                        {"exception": {"exception.message": f"login failed password={secret}"}}
                    ),
                }
            ],
        }
        for i, secret in enumerate(SECRETS)
    ]


def grpc_exports(target: str, now: int) -> None:
    """The three OTLP signals over gRPC, secrets in attributes and bodies."""
    metadata = (("x-api-key", ADMIN_KEY),)
    with grpc.insecure_channel(target) as channel:
        for service, body in (
            ("trace.v1.TraceService", otlp_traces(now, trace_byte=9)),
            ("logs.v1.LogsService", otlp_logs(now)),
            ("metrics.v1.MetricsService", otlp_metrics(now)),
        ):
            export = channel.unary_unary(f"/opentelemetry.proto.collector.{service}/Export")
            export(body, metadata=metadata, timeout=30)  # raises unless OK


def loki_push(now: int) -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {"service": "edge", "level": "error", "api_token": SECRETS[i]},
                "values": [
                    [
                        str(now),
                        f"login failed password={SECRETS[i]} Authorization: Bearer {SECRETS[i]}"
                        + (f" with {SECRETS[i]}" if SECRETS[i] in SHAPED_SECRETS else ""),
                        {"authorization": f"Bearer {SECRETS[i]}"},
                    ]
                ],
            }
            for i in range(len(SECRETS))
        ]
    }


def write_metadata_free_text(client: Any, data_dir: Path) -> None:
    """Secrets in every free-text field the hub keeps, through the routes that write
    them: the silences API, and the CLI for stacks and keys."""
    response = client.post(
        "/api/v1/silences",
        json={
            "matchers": ['alertname="HighErrorRate"'],
            "duration": "2h",
            "createdBy": f"ops via {HUB_KEY}",
            "comment": f"rotating {OPENAI_PROJECT}; old password={DB_PASSWORD}",
        },
    )
    assert response.status_code == 201, response.text
    runner = CliRunner()
    for args in (
        ["keys", "create", "--role", "read", "--label", f"ci {GITHUB_PAT_CLASSIC} {TWILIO_KEY}"],
        ["keys", "create", "--role", "read", "--label", f"token={ARGS_TOKEN}"],
        [
            "stacks",
            "create",
            "planted-probe",
            "--health-url",
            f"https://probe:{DB_URL_PASSWORD}@stack.internal/health?token={QUERY_API_KEY}&v=1",
        ],
    ):
        result = runner.invoke(cli, [args[0], args[1], "--data-dir", str(data_dir), *args[2:]])
        assert result.exit_code == 0, result.output


def find_leaks(blob: bytes) -> list[str]:
    return [
        secret[:12] + "…"
        for secret in SECRETS
        if any(form in blob for form in encoded_forms(secret))
    ]


def test_no_planted_secret_reaches_disk_through_any_endpoint(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    now = time.time_ns()
    grpc_port = free_port()
    with in_process_hub(data_dir, loader_interval_s=3600, otlp_grpc_port=grpc_port) as (
        hub,
        client,
    ):
        hub.loader.stop()  # keep everything in the spool first, to search it as written
        hub.metrics_loader.stop()
        events = secret_events()
        assert client.post("/v1/events", json=events).status_code == 200
        ndjson = b"\n".join(msgspec.json.encode(e) for e in events)
        assert (
            client.post(
                "/ingest", content=ndjson, headers={"Content-Type": "application/x-ndjson"}
            ).status_code
            == 200
        )
        proto = {"Content-Type": "application/x-protobuf"}
        for path, body in (
            ("/v1/traces", otlp_traces(now)),
            ("/v1/logs", otlp_logs(now)),
            ("/v1/metrics", otlp_metrics(now)),
        ):
            response = client.post(path, content=body, headers=proto)
            assert response.status_code == 200, (path, response.content)
        assert (
            client.post(
                "/loki/api/v1/push", json=loki_push(now), headers={"X-Scope-OrgID": "planted"}
            ).status_code
            == 204
        )
        written = client.post(
            "/prometheus/api/v1/write", content=remote_write(now), headers=REMOTE_WRITE_HEADERS
        )
        assert written.status_code == 204, written.text
        grpc_exports(f"127.0.0.1:{grpc_port}", now)
        response = client.post("/api/v2/spans", json=zipkin_spans(now))
        assert response.json() == {"accepted": len(SECRETS), "rejected": []}

        planted = {
            "Authorization": "Basic "
            + base64.b64encode(f"planted:{client.headers['X-API-Key']}".encode()).decode(),
            "X-API-Key": "",
        }
        langfuse = client.post("/api/public/ingestion", json=langfuse_batch(now), headers=planted)
        assert langfuse.status_code == 207 and langfuse.json()["errors"] == []
        otel = client.post(
            "/api/public/otel/v1/traces", content=langfuse_otel(now), headers={**proto, **planted}
        )
        assert otel.status_code == 200, otel.content
        body, content_type = langsmith_multipart(now)
        langsmith = client.post(
            "/runs/multipart",
            content=body,
            headers={"Content-Type": content_type, "X-Stack-Name": "planted"},
        )
        assert langsmith.status_code == 202, langsmith.content
        batch = client.post(
            "/runs/batch",
            json={
                "post": [
                    {
                        "id": "r1",
                        "name": "n",
                        "run_type": "llm",
                        "start_time": "2026-12-02T06:00:00",
                        "inputs": {"q": SECRETS[0]},
                        "extra": {"metadata": {"api_key": SECRETS[1]}},
                    }
                ]
            },
            headers={"X-Stack-Name": "planted"},
        )
        assert batch.status_code == 202, batch.content

        write_metadata_free_text(client, data_dir)
        # A stack's description has no route yet: the registry the routes use.
        hub.stacks.create("planted-described", description=f"support bot, key {ANTHROPIC}")

        spool_bytes = b"".join(
            p.read_bytes() for p in (data_dir / "spool").rglob("*") if p.is_file()
        )
        assert len(spool_bytes) > 10_000  # everything was spooled...
        assert find_leaks(spool_bytes) == []  # ...and nothing secret was

        hub.loader.run_once()
        hub.metrics_loader.run_once()
        stored = hub.store.count_events()
        # natives (deduplicated) + spans, logs, Loki; gRPC spans (the gRPC logs are the
        # HTTP ones again: the same records, deduplicated); Zipkin spans
        assert stored >= 2 * len(events) // 2 + len(SECRETS) * 5
        redactions = client.get("/metrics").text
        assert 'stacklens_redactions_total{rule="' in redactions

    assert len(SHAPED_SECRETS) >= 30 and len(SHAPELESS_SECRETS) >= 15
    everything = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert find_leaks(everything) == []
    # DuckDB may compress strings on disk, so also read every stored value back as text.
    con = duckdb.connect(str(data_dir / "events.duckdb"), read_only=True)
    text = "\n".join(
        str(row)
        for table in ("events", "metric_points")
        for row in con.execute(f"SELECT * FROM {table}").fetchall()
    )
    assert find_leaks(text.encode()) == []
    assert "planted" in text  # the rows are there, with their secrets removed
    assert '"job":"queue"' in text and '"series":"0"' in text  # remote-written ones too
    assert BYTES_VALUE_KEY not in text
    # metadata.sqlite, read back as rows (not only as bytes): the free text is there.
    import sqlite3

    with sqlite3.connect(data_dir / "metadata.sqlite") as meta:
        rows = "\n".join(
            str(row)
            for table in ("alert_silences", "api_keys", "stacks")
            for row in meta.execute(f"SELECT * FROM {table}").fetchall()
        )
    assert find_leaks(rows.encode()) == []
    assert "rotating [REDACTED:openai]" in rows
    assert "https://stack.internal/health?token=[REDACTED:token]&v=1" in rows
