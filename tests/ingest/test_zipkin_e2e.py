"""Zipkin v2 against a real hub process: the real OpenTelemetry Zipkin JSON exporter, with
the key as a header and as Basic auth in the endpoint URL; fields read back through the
hub's API; the answers to bad requests."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
import requests
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from stacklens.testing import HubProcess, wait_until


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    with HubProcess(tmp_path_factory.mktemp("zipkin") / "data") as running:
        yield running


def events_of(hub: HubProcess, stack: str, count: int) -> list[dict[str, Any]]:
    with hub.client() as client:

        def fetch() -> list[dict[str, Any]] | None:
            found = client.get("/api/v1/events", params={"stack": stack, "limit": 1000}).json()[
                "events"
            ]
            return found if len(found) >= count else None

        return wait_until(fetch, timeout=15)


def provider_for(stack: str, exporter: Any) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "chat-api", "stack.name": stack})
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def keyed_session(key: str) -> requests.Session:
    session = requests.Session()
    session.headers["X-API-Key"] = key
    return session


def test_exporter_spans_are_stored_field_by_field(hub: HubProcess) -> None:
    exporter = ZipkinExporter(
        endpoint=f"{hub.url}/api/v2/spans",
        session=keyed_session(hub.admin_key),
        max_tag_value_length=4096,  # the exporter cuts tag values at 128 by default
    )
    provider = provider_for("zipkin-stack", exporter)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent sisyphus") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "sisyphus")
        with tracer.start_as_current_span("chat claude", kind=SpanKind.CLIENT) as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.provider.name", "anthropic")
            llm.set_attribute("gen_ai.response.model", "claude-sonnet-4-20250514")
            llm.set_attribute("gen_ai.usage.input_tokens", 1500)
            llm.set_attribute("gen_ai.usage.output_tokens", 500)
            llm.set_attribute("gen_ai.usage.cache_read.input_tokens", 300)
            llm.set_attribute("gen_ai.conversation.id", "conv-42")
            llm.set_attribute("user.id", "alice@example.com")
            llm.set_attribute(
                "gen_ai.input.messages", '[{"role":"user","content":"refactor the parser"}]'
            )
            time.sleep(0.01)
        with tracer.start_as_current_span("execute_tool bash") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "bash")
            tool.set_status(StatusCode.ERROR, "exit status 1")
    provider.shutdown()
    llm_ctx = llm.get_span_context()

    stored = {e["event_type"]: e for e in events_of(hub, "zipkin-stack", 3)}
    assert set(stored) == {"span", "llm_call", "tool_use"}
    call = stored["llm_call"]
    assert (call["trace_id"], call["span_id"]) == (
        f"{llm_ctx.trace_id:032x}",
        f"{llm_ctx.span_id:016x}",
    )
    assert call["parent_span_id"] == stored["span"]["span_id"]
    assert (call["provider"], call["model"]) == ("anthropic", "claude-sonnet-4-20250514")
    assert (call["tokens_in"], call["tokens_out"], call["tokens_cache_read"]) == (1500, 500, 300)
    assert call["session_id"] == "conv-42" and call["service"] == "chat-api"
    assert call["duration_ms"] >= 10 and call["success"] is True
    assert call["user_id"].startswith("u_") and "alice" not in str(call)
    assert "content_hash" in call and "refactor the parser" not in str(call)
    assert stored["tool_use"]["tool"] == "bash" and stored["tool_use"]["success"] is False
    assert stored["tool_use"]["error_code"] == "exit status 1"
    assert stored["span"]["agent"] == "sisyphus"


def test_the_key_as_basic_auth_in_the_endpoint_url(hub: HubProcess) -> None:
    endpoint = hub.url.replace("http://", f"http://zipkin:{hub.admin_key}@") + "/api/v2/spans"
    provider = provider_for("zipkin-basic", ZipkinExporter(endpoint=endpoint))
    with provider.get_tracer("test").start_as_current_span("GET /health", kind=SpanKind.SERVER):
        pass
    provider.shutdown()
    [event] = events_of(hub, "zipkin-basic", 1)
    assert (event["event_type"], event["message"], event["service"]) == (
        "span",
        "GET /health",
        "chat-api",
    )


def test_the_exporter_without_a_key_stores_nothing(hub: HubProcess) -> None:
    memory = InMemorySpanExporter()
    provider = provider_for("zipkin-nokey", memory)
    with provider.get_tracer("test").start_as_current_span("lost"):
        pass
    exporter = ZipkinExporter(endpoint=f"{hub.url}/api/v2/spans")
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.FAILURE
    with hub.client() as client:
        found = client.get("/api/v1/events", params={"stack": "zipkin-nokey"}).json()
    assert found["events"] == []


def post(hub: HubProcess, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{hub.url}/api/v2/spans",
        content=body,
        headers={"X-API-Key": hub.admin_key, "Content-Type": "application/json", **headers},
    )


def zipkin_span(span_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "traceId": "463ac35c9f6413ad48485a3953bb6124",
        "id": span_id,
        "name": "get /api",
        "timestamp": time.time_ns() // 1000,
        "duration": 2500,
        "localEndpoint": {"serviceName": "web"},
        "tags": {"stack.name": "zipkin-raw"},
        **fields,
    }


def test_gzip_and_partial_acceptance_answer_202(hub: HubProcess) -> None:
    body = msgspec.json.encode([zipkin_span("a2fb4a1d1a96d312"), zipkin_span("short")])
    response = post(hub, gzip.compress(body), **{"Content-Encoding": "gzip"})
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 1,
        "rejected": [{"index": 1, "error": "id must be 16 hex characters"}],
    }
    [event] = events_of(hub, "zipkin-raw", 1)
    assert (event["span_id"], event["duration_ms"], event["service"]) == (
        "a2fb4a1d1a96d312",
        2.5,
        "web",
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b"{not json", "application/json", 400, "cannot decode Zipkin spans: invalid JSON"),
        (b"{}", "application/json", 400, "a Zipkin v2 body is a JSON list of spans"),
        (b'[{"id": "x"}]', "application/json", 400, "no valid span in the request"),
        (b"\x0a\x02", "application/x-protobuf", 415, "Zipkin protobuf is not supported"),
        (b"\x0c\x00", "application/x-thrift", 415, "Zipkin Thrift is not supported"),
        (b"[]", "text/plain", 415, "Content-Type 'text/plain' is not supported"),
    ],
)
def test_bad_requests_get_a_clear_4xx(
    hub: HubProcess, body: bytes, content_type: str, status: int, error: str
) -> None:
    response = post(hub, body, **{"Content-Type": content_type})
    assert response.status_code == status
    assert error in response.json()["error"]


def test_no_key_no_write(hub: HubProcess) -> None:
    response = httpx.post(f"{hub.url}/api/v2/spans", json=[zipkin_span("b2fb4a1d1a96d312")])
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="stacklens"'
