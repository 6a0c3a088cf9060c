"""``import stacklens.sdk`` stays light: no server dependency is imported."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

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


#: What a stack author uses; the rest lives in the submodules below.
PUBLIC = {
    "Client",
    "get_client",
    "setup_structured_logging",
    "get_structured_logger",
    "get_metrics_exporter",
    "register_gpu_collector",
    "StackLensMiddleware",
    "set_trace_context",
    "context_scope",
    "instrument_httpx",
}
#: Names the package used to export, each still importable from where it lives.
IN_SUBMODULES = {
    "stacklens.sdk.asgi": ("MetricsApp",),
    "stacklens.sdk.catalog": ("CATALOG", "Metrics", "MetricSpec"),
    "stacklens.sdk.exporter": ("MetricsExporter",),
    "stacklens.sdk.gpu": ("GpuCollector",),
    "stacklens.sdk.logging": ("REQUIRED_FIELDS", "StructuredLogger"),
    "stacklens.sdk.context": (
        "LogContext",
        "bind_context",
        "clear_context",
        "current_context",
        "reset_context",
    ),
    "stacklens.sdk.trace": (
        "TRACEPARENT_HEADER",
        "TRACE_ID_HEADER",
        "current_trace_ids",
        "new_trace_id",
        "outgoing_headers",
        "trace_from_headers",
    ),
}
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_public_face_is_what_a_stack_author_uses() -> None:
    assert set(stacklens.sdk.__all__) == PUBLIC
    namespace: dict[str, object] = {}
    exec("from stacklens.sdk import *", namespace)
    assert set(namespace) - {"__builtins__"} == PUBLIC


def test_every_public_name_is_documented_in_the_package() -> None:
    doc = stacklens.sdk.__doc__ or ""
    for name in PUBLIC:
        assert re.search(rf"\b{name}\b", doc), name


def test_what_the_readme_imports_from_the_sdk_is_public() -> None:
    imported: set[str] = set()
    pattern = r"from stacklens\.sdk import (?:\(([^)]*)\)|([\w ,]+))"
    for grouped, plain in re.findall(pattern, README):
        names = grouped or plain
        imported |= {name.strip() for name in names.split(",") if name.strip()}
    assert imported  # the README shows the SDK in use
    assert imported <= PUBLIC, imported - PUBLIC


def test_the_rest_stays_importable_from_its_submodule() -> None:
    for module_name, names in IN_SUBMODULES.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert name in module.__all__, (module_name, name)
            assert hasattr(module, name), (module_name, name)
            assert name not in stacklens.sdk.__all__


def test_one_asgi_metrics_app() -> None:
    import stacklens.sdk.asgi

    apps = [
        name
        for name in stacklens.sdk.asgi.__all__
        if "metrics" in name.lower() and "middleware" not in name.lower()
    ]
    assert apps == ["MetricsApp"]
    assert not hasattr(stacklens.sdk.asgi, "metrics_app")
