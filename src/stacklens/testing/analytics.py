"""Test support for analytics: a store with the rollups installed, rows loaded as a
spool segment, and a hub's analytics pinned for deterministic tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stacklens.analytics.rollups import ddl_statements, load_statements
from stacklens.store.base import LoadResult
from stacklens.store.duckdb import DuckDBStore

__all__ = ["install_rollups", "load_rows", "wire"]


def install_rollups(path: Path, *, label_cap: int = 50) -> DuckDBStore:
    """A store with the rollup tables and load hooks, as the hub builds it."""
    return DuckDBStore(
        path,
        extra_ddl=ddl_statements(),
        load_hooks={"events": load_statements(label_cap=label_cap)},
    )


def load_rows(store: DuckDBStore, tmp: Path, rows: list[Any], number: int = 1) -> LoadResult:
    """Write EventRows as a spool segment file and load it (bypassing the spool)."""
    import msgspec

    path = tmp / f"segment-{number:08d}.ndjson"
    path.write_bytes(b"\n".join(msgspec.json.encode(r) for r in rows) + b"\n")
    return store.load_segments("events", [(number, path)])


def wire(hub: Any, app: Any, *, pricer: Any = None) -> Any:
    """The hub wires analytics itself; tests only pin the pricer and turn off the
    collector's scrape cache so every scrape reads the store."""
    if pricer is not None:
        hub.pricer = pricer
        hub.pipeline.pricer = pricer
    hub.stack_metrics.cache_s = 0.0
    return hub
