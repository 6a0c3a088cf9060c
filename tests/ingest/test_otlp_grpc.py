"""OTLP/gRPC's status mapping, its configuration, and how ``stacklens serve`` starts it
(a taken port is one clear line; ``0`` turns it off)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status

from stacklens.config import load_config
from stacklens.ingest.batch import IngestError, NotStoredError
from stacklens.ingest.otlp_grpc import listen_problem, refusal
from stacklens.testing import HubProcess, free_port


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, grpc.StatusCode.INVALID_ARGUMENT),
        (401, grpc.StatusCode.UNAUTHENTICATED),
        (403, grpc.StatusCode.PERMISSION_DENIED),
        (413, grpc.StatusCode.INVALID_ARGUMENT),
        (503, grpc.StatusCode.RESOURCE_EXHAUSTED),
    ],
)
def test_statuses_map_to_the_codes_otlp_names(status: int, code: grpc.StatusCode) -> None:
    refused = refusal(IngestError(status, "why"))
    assert (refused.code, refused.message, refused.http_status) == (code, "why", status)
    details = Status.FromString(dict(refused.trailing)["grpc-status-details-bin"])
    assert (details.code, details.message) == (code.value[0], "why")
    # Only backpressure is retryable, and only it carries RetryInfo.
    assert (len(details.details) == 1) is (code == grpc.StatusCode.RESOURCE_EXHAUSTED)


def test_a_batch_the_spool_could_not_store_is_unavailable_with_retry_info() -> None:
    refused = refusal(NotStoredError(503, "not stored", "disk full"))
    assert (refused.code, refused.message) == (
        grpc.StatusCode.UNAVAILABLE,
        "not stored, retry: disk full",
    )
    retry = RetryInfo.FromString(dict(refused.trailing)["google.rpc.retryinfo-bin"])
    assert retry.retry_delay.seconds == 1


def test_configuration() -> None:
    assert load_config(environ={}).otlp_grpc_port == 4317
    assert load_config(environ={"STACKLENS_OTLP_GRPC_PORT": "0"}).otlp_grpc_port == 0
    for bad in ("-1", "65536", "grpc"):
        with pytest.raises(ValueError, match="otlp_grpc_port"):
            load_config(environ={"STACKLENS_OTLP_GRPC_PORT": bad})
    with pytest.raises(ValueError, match="also the HTTP port"):
        load_config(environ={"STACKLENS_OTLP_GRPC_PORT": "4320"})


def test_listen_problem_names_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert listen_problem("127.0.0.1", port) == (
            f"cannot listen on 127.0.0.1:{port}: Address already in use"
        )
    assert listen_problem("127.0.0.1", port) is None


def test_serve_with_the_grpc_port_taken_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "stacklens.cli", "serve", "--data-dir", str(tmp_path / "d")],
            env={
                **os.environ,
                "STACKLENS_OTLP_GRPC_PORT": str(port),
                "STACKLENS_PORT": str(free_port()),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: OTLP/gRPC: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(STACKLENS_OTLP_GRPC_PORT sets the port, 0 turns it off)"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_port_zero_turns_grpc_off(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "data", env={"STACKLENS_OTLP_GRPC_PORT": "0"}) as hub:
        assert hub.grpc_port == 0
        log = hub.log_path.read_text()
        assert "OTLP/gRPC" not in log
        with hub.client() as client:
            assert client.get("/health").status_code == 200
