"""The ingest service without HTTP (a decoded batch in, one outcome out), and a protocol
added with nothing but an adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from stacklens.ingest.batch import EventBatch, IngestError, IngestRequest, PointBatch
from stacklens.ingest.instruments import HubMetrics
from stacklens.ingest.limits import DEFAULT_REQUEST_LIMITS
from stacklens.ingest.otlp import MetricPoint
from stacklens.ingest.pipeline import IngestPipeline
from stacklens.ingest.service import INGEST, Adapter, IngestService, Outcome
from stacklens.ingest.spool import Spool
from stacklens.ingest.steps import Steps
from stacklens.ingest.workers import PipelinePool, PipelineSpec
from stacklens.metadata import KeyRing, MetadataDB, StackRegistry
from stacklens.metadata.keys import Principal, Role
from stacklens.privacy import PrivacyPolicy, Redactor
from stacklens.testing import ManualClock, SequentialIds
from stacklens.testing.secrets import GITHUB_PAT_CLASSIC

TS = 1_768_046_400 * 10**9
WRITER = Principal(key_id="k1", role=Role.INGEST)


class Parts:
    """An IngestService over real spools, a real metadata DB and its own registry."""

    def __init__(self, root: Path, *, pool: PipelinePool | None = None) -> None:
        self.metadata = MetadataDB.in_data_dir(root)
        self.keys = KeyRing(self.metadata)
        self.stacks = StackRegistry(self.metadata)
        self.registry = CollectorRegistry()
        self.instruments = HubMetrics(self.registry)
        self.events = Spool(root / "spool" / "events")
        self.points = Spool(root / "spool" / "metrics")
        self.clock = ManualClock(TS)
        redactor = Redactor(b"k", on_redaction=self.instruments.count_redaction)
        self.service = IngestService(
            keys=self.keys,
            stacks=self.stacks,
            pipeline=IngestPipeline(redactor, clock=self.clock, new_id=SequentialIds()),
            events=self.events,
            points=self.points,
            instruments=self.instruments,
            limits=DEFAULT_REQUEST_LIMITS,
            max_body_bytes=1 << 20,
            pool=pool,
            clock=self.clock,
        )
        self.events.open()
        self.points.open()

    def close(self) -> None:
        self.events.close()
        self.points.close()
        self.metadata.close()

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


def spooled(spool: Spool) -> list[bytes]:
    """The rows ``spool`` holds, commit markers left out."""
    return [
        line
        for _, path in spool.seal()
        for line in path.read_bytes().splitlines()
        if not line.startswith(b'{"_commit"')
    ]


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    built = Parts(tmp_path)
    yield built
    built.close()


def log_event(stack: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"timestamp": TS, "event_type": "log", "stack_name": stack, "message": message, **fields}


def test_a_decoded_batch_is_prepared_spooled_counted_and_its_stacks_registered(
    parts: Parts,
) -> None:
    batch = EventBatch(
        [
            log_event("svc", f"pushed with {GITHUB_PAT_CLASSIC}", event_id="e1"),
            None,  # refused by the decoder
            {"timestamp": TS, "event_type": "bogus", "stack_name": "svc"},
        ],
        rejected=[(1, "line is not valid JSON")],
    )
    outcome = asyncio.run(parts.service.accept(WRITER, batch, protocol="test"))

    assert outcome.accepted == 1
    assert [index for index, _ in outcome.rejected] == [1, 2]
    assert outcome.rejected[0] == (1, "line is not valid JSON")
    assert "event_type" in outcome.rejected[1][1]
    [row] = [msgspec.json.decode(line) for line in spooled(parts.events)]
    assert row["event_id"] == "e1" and row["stack_name"] == "svc"
    assert GITHUB_PAT_CLASSIC not in row["message"] and "[REDACTED:" in row["message"]
    assert spooled(parts.points) == []
    assert parts.sample("stacklens_ingest_events_accepted_total", protocol="test") == 1
    assert parts.sample("stacklens_ingest_events_rejected_total", protocol="test") == 2
    assert parts.sample("stacklens_redactions_total", rule="github") == 1
    assert parts.stacks.get("svc") is not None


def test_metric_points_are_the_second_sink_through_the_same_privacy_step(
    parts: Parts,
) -> None:
    point = MetricPoint(
        ts=TS, stack_name=None, service="queue", name="queue_depth", kind="gauge", unit="1",
        attributes='{"password":"hunter2-secret-value","region":"eu"}', value=3.0,
        count=None, bounds=None, bucket_counts=None, monotonic=None, start_ts=None,
    )  # fmt: skip
    bound = Principal(key_id="k2", role=Role.INGEST, stack="svc")
    parts.clock.now_ns += 5
    outcome = asyncio.run(
        parts.service.accept(bound, PointBatch([point], []), protocol="otlp_metrics")
    )

    assert outcome == Outcome(1, [])
    # Byte for byte the row the hub wrote before the metric sink moved into the pipeline.
    assert spooled(parts.points) == [
        b'{"attributes":"{\\"password\\":\\"[REDACTED:password]\\",\\"region\\":\\"eu\\"}",'
        b'"kind":"gauge","name":"queue_depth","point_id":"1c6efe2c6894b4cc52c00a141e0213a5",'
        b'"received_ns":1768046400000000005,"service":"queue","stack_name":"svc",'
        b'"ts":1768046400000000000,"unit":"1","value":3.0}'
    ]
    assert spooled(parts.events) == []
    assert parts.stacks.get("svc") is None  # metric points register no stack, as before


def test_refusals_are_one_error_type_with_a_status(parts: Parts) -> None:
    bound = Principal(key_id="k3", role=Role.INGEST, stack="mine")
    with pytest.raises(IngestError) as forbidden:
        asyncio.run(
            parts.service.accept(bound, EventBatch([log_event("theirs", "x")], []), protocol="t")
        )
    assert forbidden.value.status == 403 and "bound to" in forbidden.value.message

    parts.events.close()  # a spool that cannot take the rows: nothing acknowledged
    with pytest.raises(IngestError) as not_stored:
        asyncio.run(
            parts.service.accept(WRITER, EventBatch([log_event("svc", "x")], []), protocol="t")
        )
    assert not_stored.value.status == 503
    assert parts.sample("stacklens_ingest_events_accepted_total", protocol="t") is None


# ------------------------------------------------------------------ a new protocol


def decode_pipe_lines(request: IngestRequest) -> Steps[EventBatch]:
    """``stack|message`` lines → log events; a line without ``|`` is refused."""
    events: list[Any] = []
    rejected: list[tuple[int, str]] = []
    for index, line in enumerate(request.body.decode().splitlines()):
        stack, bar, message = line.partition("|")
        if not bar:
            events.append(None)
            rejected.append((index, "expected stack|message"))
        else:
            events.append(log_event(stack, message, timestamp=request.received_ns))
        yield
    if not events:
        raise IngestError(400, "nothing to ingest")
    return EventBatch(events, rejected)


def _render(outcome: Outcome, _: Mapping[str, str]) -> Response:
    return JSONResponse({"stored": outcome.accepted, "refused": len(outcome.rejected)})


def _render_error(error: IngestError, _: Mapping[str, str]) -> Response:
    return Response(f"refused: {error.message}", status_code=error.status)


PIPE_LINES = Adapter(
    name="pipe_lines", decode=decode_pipe_lines, render=_render, render_error=_render_error
)
router = APIRouter()


@router.post("/pipe")
async def pipe(request: Request, service: Annotated[IngestService, Depends(INGEST)]) -> Response:
    return await service.serve(request, PIPE_LINES)


def serve_pipe(parts: Parts) -> tuple[TestClient, str]:
    app = FastAPI()
    app.include_router(router)
    INGEST.provide(app, parts.service)
    _, key = parts.keys.create("ingest")
    return TestClient(app), key


def test_a_protocol_is_one_adapter_module_nothing_else(parts: Parts) -> None:
    client, key = serve_pipe(parts)
    body = f"svc|deploy done\nno bar here\nsvc|token {GITHUB_PAT_CLASSIC}".encode()

    answer = client.post("/pipe", content=body, headers={"X-API-Key": key})

    assert answer.status_code == 200 and answer.json() == {"stored": 2, "refused": 1}
    rows = [msgspec.json.decode(line) for line in spooled(parts.events)]
    assert len(rows) == 2 and rows[0]["message"] == "deploy done"
    assert GITHUB_PAT_CLASSIC not in rows[1]["message"]
    assert parts.sample("stacklens_ingest_requests_total", protocol="pipe_lines", status="200")
    assert parts.stacks.get("svc") is not None
    # The service's admission and errors, rendered the adapter's way.
    assert client.post("/pipe", content=body).status_code == 401
    empty = client.post("/pipe", content=b"", headers={"X-API-Key": key})
    assert (empty.status_code, empty.text) == (400, "refused: nothing to ingest")


def test_a_new_protocol_runs_in_the_worker_pool_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = PipelinePool(PipelineSpec(b"k", PrivacyPolicy(), {}, None), workers=1)
    parts = Parts(tmp_path, pool=pool)
    # The hub process's pipeline must not run (the worker imported its own, unpatched).
    monkeypatch.setattr(IngestPipeline, "prepare_steps", _not_in_the_hub_process)
    try:
        client, key = serve_pipe(parts)
        answer = client.post(
            "/pipe", content=f"svc|key {GITHUB_PAT_CLASSIC}".encode(), headers={"X-API-Key": key}
        )
        assert answer.status_code == 200 and answer.json() == {"stored": 1, "refused": 0}
        [row] = [msgspec.json.decode(line) for line in spooled(parts.events)]
        assert GITHUB_PAT_CLASSIC not in row["message"]
        # Redacted in the worker: the count came back with the rows.
        assert parts.sample("stacklens_redactions_total", rule="github") == 1
    finally:
        parts.close()
        pool.close()


def _not_in_the_hub_process(*_: object, **__: object) -> Any:
    raise AssertionError("ran in the hub process, not in a worker")
