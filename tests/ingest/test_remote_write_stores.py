"""Remote write into a real ``stacklens serve`` on each store (DuckDB, and ClickHouse via
``STACKLENS_STORE_URL=chdb://``): samples, labels and stale markers come back the same
through ``/api/v1/metrics/{name}``, a resent batch once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from stacklens.testing import HubProcess, wait_until
from stacklens.testing.remote_write import HEADERS, STALE_NAN, write_body


@pytest.mark.parametrize("store", ["duckdb", "chdb"])
def test_remote_written_points_on_each_store(tmp_path: Path, store: str) -> None:
    env = {"STACKLENS_STORE_URL": f"chdb://{tmp_path / 'chdb'}"} if store == "chdb" else {}
    ms = time.time_ns() // 1_000_000 - 60_000
    labels = {"__name__": "gpu_temperature_celsius", "job": "dcgm", "instance": "n1:9400"}
    body = write_body(
        [
            ({**labels, "gpu_id": "0"}, [(ms, 86.5), (ms + 15_000, 87.0)]),
            ({**labels, "gpu_id": "1"}, [(ms, 70.0), (ms + 15_000, STALE_NAN)]),
        ]
    )
    with HubProcess(tmp_path / "data", env=env) as hub, hub.client() as client:
        headers = {**HEADERS, "X-Stack-Name": "gpu-farm"}
        for _ in range(2):  # the second is a sender's retry
            response = client.post("/prometheus/api/v1/write", content=body, headers=headers)
            assert response.status_code == 204, response.text

        def four() -> list[dict[str, Any]] | None:
            found = client.get(
                "/api/v1/metrics/gpu_temperature_celsius", params={"stack": "gpu-farm"}
            ).json()["points"]
            return found if len(found) >= 4 else None

        wait_until(four, timeout=30, interval=0.3)
        time.sleep(0.5)  # a duplicate would have landed by now
        points = four()
        assert points is not None

        def attrs(point: dict[str, Any]) -> dict[str, Any]:
            value = point["attributes"]
            return dict(json.loads(value) if isinstance(value, str) else value)

        got = sorted(
            (attrs(p)["gpu_id"], p["timestamp_ns"] // 1_000_000, p["kind"], p.get("value"))
            for p in points
        )
        assert got == [
            ("0", ms, "gauge", 86.5),
            ("0", ms + 15_000, "gauge", 87.0),
            ("1", ms, "gauge", 70.0),
            ("1", ms + 15_000, "stale", None),
        ]
        assert all(attrs(p)["job"] == "dcgm" and p["service"] == "dcgm" for p in points)
        names = client.get("/api/v1/metrics", params={"stack": "gpu-farm"}).json()["metrics"]
        assert [(m["name"], m["kind"], m["points"]) for m in names] == [
            ("gpu_temperature_celsius", "gauge", 3)  # the stale marker is not a point
        ]
