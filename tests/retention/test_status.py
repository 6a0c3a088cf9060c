"""Retention visibility: the pure table, ``GET /api/v1/retention``, ``/metrics`` and the
console's admin page, over a real hub."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from stacklens.retention.collector import RetentionCollector
from stacklens.retention.status import TIER_TABLES, TierStatus, tier_status
from stacklens.retention.tiers import RetentionPolicy
from stacklens.testing import ADMIN_KEY, SEED_RETENTION, ManualClock, in_process_hub, require_binary
from stacklens.testing.dataset import NOW_NS, events

S = 10**9
DAY = 86_400 * S
JAN_10 = 1_768_003_200 * S  # 2026-01-10T00:00:00Z, the dataset's day


def test_tier_status_is_the_oldest_day_plus_the_longest_period() -> None:
    policy = RetentionPolicy.build({"events": "7d"}, {"acme": {"events": "10d"}})
    oldest = {"events": JAN_10 + 3600 * S, "metric_points": JAN_10 + 7200 * S}
    sizes = {"events": 1000, "metric_points": 24, "usage_hourly": 5, "billing_daily": 7,
             "billing_adjustments": 3}  # fmt: skip
    now = JAN_10 + DAY
    tiers = {t.tier: t for t in tier_status(policy, oldest, sizes, now_ns=now, interval_ns=300 * S)}
    events_tier = tiers["events"]
    assert events_tier.period == "10d" and events_tier.period_ns == 10 * DAY  # acme keeps longest
    assert events_tier.oldest_ns == JAN_10 + 3600 * S
    assert events_tier.bytes == 1024
    # The 10th leaves when its end (11th 00:00) is 10 days old, at the job's next look.
    assert events_tier.next_drop_ns == JAN_10 + DAY + 10 * DAY + 300 * S
    assert tiers["billing"].bytes == 10 and tiers["billing"].oldest_ns is None
    assert tiers["billing"].next_drop_ns is None and tiers["sessions"].bytes == 0
    # Overdue: the job's next run drops it.
    late = JAN_10 + 30 * DAY
    [overdue, *_] = tier_status(policy, oldest, sizes, now_ns=late, interval_ns=300 * S)
    assert overdue.next_drop_ns == late + 300 * S


def test_every_tier_has_tables() -> None:
    assert set(TIER_TABLES) == {"events", "rollups", "sessions", "billing"}


def test_the_collector_caches_between_scrapes() -> None:
    calls: list[int] = []
    now = [0.0]

    def status() -> list[TierStatus]:
        calls.append(1)
        return [TierStatus("events", "7d", 7 * DAY, JAN_10, 42, None)]

    collector = RetentionCollector(status, cache_s=15, monotonic=lambda: now[0])
    first = list(collector.collect())
    list(collector.collect())
    assert len(calls) == 1
    now[0] = 16.0
    list(collector.collect())
    assert len(calls) == 2
    assert [m.name for m in first] == [
        "stacklens_retention_oldest_timestamp_seconds",
        "stacklens_storage_bytes",
    ]


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    with in_process_hub(tmp_path / "data", clock=ManualClock(NOW_NS), **SEED_RETENTION) as (
        hub,
        client,
    ):
        assert client.post("/v1/events", json=events()).json()["accepted"] == 15
        hub.flush()
        with hub.store.writer() as con:  # the rows into the file's blocks (out of the WAL)
            con.execute("CHECKPOINT")
        yield hub, client


def test_retention_api(loaded: tuple[Any, Any]) -> None:
    hub, client = loaded
    response = client.get("/api/v1/retention")
    assert response.status_code == 200, response.text
    tiers = {t["tier"]: t for t in response.json()["tiers"]}
    assert list(tiers) == ["events", "rollups", "sessions", "billing"]
    assert [tiers[t]["period"] for t in tiers] == ["7d", "90d", "365d", "2555d"]
    assert tiers["events"]["oldest"] == "2026-01-10T10:00:00Z"
    assert tiers["rollups"]["oldest"] == "2026-01-10T10:00:00Z"  # the hour
    assert tiers["billing"]["oldest"] == "2026-01-10T00:00:00Z"  # the day
    assert tiers["sessions"]["oldest"] == "2026-01-10T11:05:00Z"  # a session's last event
    assert all(t["bytes"] > 0 for t in tiers.values()), tiers
    sizes = hub.store.storage(["events", "metric_points"])
    assert tiers["events"]["bytes"] == sum(sizes.values())
    # 2026-01-11 00:00 + 7 days + the job's interval (300 s).
    assert tiers["events"]["next_drop"] == "2026-01-18T00:05:00Z"
    _, bound = hub.keyring.create("read", stack="alpha")
    assert client.get("/api/v1/retention", headers={"X-API-Key": bound}).status_code == 403
    _, ingest = hub.keyring.create("ingest")
    assert client.get("/api/v1/retention", headers={"X-API-Key": ingest}).status_code == 403
    _, reader = hub.keyring.create("read")
    assert client.get("/api/v1/retention", headers={"X-API-Key": reader}).status_code == 200


def test_retention_metrics(loaded: tuple[Any, Any]) -> None:
    _, client = loaded
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    oldest = {s.labels["tier"]: s.value for s in families[
        "stacklens_retention_oldest_timestamp_seconds"].samples}  # fmt: skip
    assert oldest["events"] == pytest.approx(1_768_039_200)  # 2026-01-10T10:00Z
    assert set(oldest) == {"events", "rollups", "sessions", "billing"}
    assert families["stacklens_storage_bytes"].type == "gauge"
    sizes = {s.labels["tier"]: s.value for s in families["stacklens_storage_bytes"].samples}
    assert sizes["events"] > 0
    api = {t["tier"]: t["bytes"] for t in client.get("/api/v1/retention").json()["tiers"]}
    assert sizes == {tier: float(n) for tier, n in api.items()}
    promtool = require_binary("promtool", package="prometheus")
    lint = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                          capture_output=True, timeout=30, check=False)  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_admin_page_shows_the_retention_table(loaded: tuple[Any, Any]) -> None:
    _, client = loaded
    console = TestClient(client.app, base_url="http://testserver", follow_redirects=False)
    form = console.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    console.post("/login", data={"csrf": token.group(1), "key": ADMIN_KEY, "next": "/admin"})
    page = console.get("/admin")
    assert page.status_code == 200
    rows = re.findall(r'data-testid="retention-row" data-tier="(\w+)"><td>\w+</td><td>(\w+)</td>',
                      page.text)  # fmt: skip
    assert rows == [
        ("events", "7d"),
        ("rollups", "90d"),
        ("sessions", "365d"),
        ("billing", "2555d"),
    ]
    sizes = [int(n) for n in re.findall(r'data-bytes="(\d+)"', page.text)]
    assert len(sizes) == 4 and all(n > 0 for n in sizes)
