"""``import stacklens.sdk`` stays light: no server dependency is imported."""

from __future__ import annotations

import json
import subprocess
import sys

import stacklens.sdk

FORBIDDEN = ("fastapi", "starlette", "uvicorn", "duckdb", "pyarrow", "sqlalchemy", "click")


def test_import_pulls_no_server_dependency() -> None:
    code = (
        "import json, sys\n"
        "import stacklens.sdk\n"
        "from stacklens.sdk import *\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(json.dumps(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == []


def test_opentelemetry_and_nvml_are_not_imported() -> None:
    code = (
        "import json, sys\n"
        "import stacklens.sdk\n"
        "print(json.dumps([m for m in sys.modules if m.startswith(('opentelemetry', 'pynvml'))]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == []


def test_public_api_is_exported() -> None:
    for name in stacklens.sdk.__all__:
        assert hasattr(stacklens.sdk, name), name
    for name in (
        "Client",
        "setup_structured_logging",
        "get_structured_logger",
        "set_trace_context",
        "get_metrics_exporter",
        "StackLensMiddleware",
    ):
        assert name in stacklens.sdk.__all__
