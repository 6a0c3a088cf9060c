"""The ClickHouse migrations: two forms (single node, cluster) that declare the same
columns, the stream's columns; the single-node form applies on chDB, once."""

from __future__ import annotations

import re
import uuid

from stacklens.store import clickhouse_migrations as migrations
from stacklens.store.clickhouse_clients import chdb_clients
from stacklens.store.columns import TABLES
from stacklens.testing.backends import chdb_path

_CREATE = re.compile(
    r"CREATE TABLE IF NOT EXISTS (\w+)(?: ON CLUSTER '\{cluster\}')? \((.*)\)\s*ENGINE = (\w+)",
    re.S,
)


def _tables(clustered: bool) -> dict[str, tuple[list[tuple[str, str]], str]]:
    """Table → ([(column, type)], engine), parsed from the migration files' text."""
    found = {}
    for migration in migrations.migrations(clustered=clustered):
        for statement in migration.statements:
            matched = _CREATE.search(statement)
            assert matched, statement
            columns = []
            for raw in matched[2].splitlines():
                line = raw.strip().rstrip(",")
                if not line or line.startswith("INDEX "):
                    continue
                name, rest = line.split(" ", 1)
                columns.append((name, rest.split(" CODEC(")[0].split(" DEFAULT ")[0]))
            found[matched[1]] = (columns, matched[3])
    return found


def test_both_forms_declare_the_same_columns() -> None:
    single, cluster = _tables(False), _tables(True)
    assert set(single) == set(cluster) == {"events", "metric_points", "spool_checkpoints"}
    for table, (columns, engine) in single.items():
        assert cluster[table][0] == columns, table
        assert (
            engine == "ReplacingMergeTree" and cluster[table][1] == "ReplicatedReplacingMergeTree"
        )
    for spec in TABLES.values():  # every stream column, plus the row version
        assert [name for name, _ in single[spec.name][0]] == [
            *(c.name for c in spec.columns),
            "_version",
        ]
    assert all(
        "ON CLUSTER '{cluster}'" in s
        for m in migrations.migrations(clustered=True)
        for s in m.statements
    )
    assert not any(
        "ON CLUSTER" in s for m in migrations.migrations(clustered=False) for s in m.statements
    )


def test_layout_in_the_single_node_form() -> None:
    [initial] = migrations.migrations(clustered=False)
    events = next(s for s in initial.statements if " events " in s)
    for expected in (
        "PARTITION BY toDate(ts)",
        "ORDER BY (stack_name, ts, event_id)",
        "stack_name LowCardinality(String)",
        "model LowCardinality(Nullable(String))",
        "ts DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1))",
        "INDEX idx_session_id session_id TYPE bloom_filter",
        "INDEX idx_trace_id trace_id TYPE bloom_filter",
        "ttl_only_drop_parts = 1",
        "non_replicated_deduplication_window",
    ):
        assert expected in events, expected


def test_unclustered_applies_on_chdb_once_and_is_recorded() -> None:
    writer, reader = chdb_clients(chdb_path(), f"m_{uuid.uuid4().hex[:12]}")
    try:
        assert migrations.apply(writer) == [1]
        assert migrations.apply(writer) == []  # recorded: not applied twice
        tables = {r[0] for r in reader.query("SHOW TABLES").result_rows}
        assert {"events", "metric_points", "spool_checkpoints", "schema_migrations"} <= tables
        described = reader.query("DESCRIBE TABLE events").result_rows
        assert [r[0] for r in described][:4] == ["event_id", "ts", "stack_name", "event_type"]
    finally:
        writer.close()
        reader.close()


def test_the_generated_rollup_ddl_has_a_cluster_form_with_the_same_columns() -> None:
    from stacklens.analytics.rollups import ddl_statements
    from stacklens.store.clickhouse_dialect import CLICKHOUSE
    from stacklens.store.clickhouse_tables import cluster_form

    statements = ddl_statements(CLICKHOUSE)
    creates = [s for s in statements if s.startswith("CREATE ")]
    assert len(creates) >= 10  # every rollup's parts table and view
    for statement in creates:
        clustered = cluster_form(statement)
        name = statement.split(" IF NOT EXISTS ", 1)[1].split(" ", 1)[0]
        assert f"IF NOT EXISTS {name} ON CLUSTER '{{cluster}}' " in clustered
        if "ENGINE = " in statement:
            engine = statement.split("ENGINE = ", 1)[1].split(" ", 1)[0]
            assert f"ENGINE = Replicated{engine}" in clustered, clustered
        # Nothing else changes: the columns, keys and settings are the single-node ones.
        assert clustered.replace(" ON CLUSTER '{cluster}'", "").replace(
            "ENGINE = Replicated", "ENGINE = "
        ) == statement.replace("ENGINE = MergeTree ORDER", "ENGINE = MergeTree() ORDER")
    assert cluster_form("ALTER TABLE events DROP PARTITION 1") == (
        "ALTER TABLE events DROP PARTITION 1"
    )


def test_a_clustered_store_creates_its_rollups_on_the_cluster() -> None:
    """No cluster can run here (chDB has no Keeper): the statements the store sends
    are recorded by a client that answers every command and query as empty."""
    from stacklens.analytics.rollups import ddl_statements
    from stacklens.store.clickhouse import ClickHouseStore
    from stacklens.store.clickhouse_dialect import CLICKHOUSE

    class Recorder:
        def __init__(self) -> None:
            self.commands: list[str] = []

        def command(self, cmd: str, parameters: object = None, settings: object = None) -> None:
            self.commands.append(cmd)

        def query(self, query: str, parameters: object = None, settings: object = None) -> object:
            return type("Result", (), {"result_rows": [], "column_names": ()})()

    recorder = Recorder()
    ClickHouseStore(recorder, extra_ddl=ddl_statements(CLICKHOUSE), clustered=True)  # type: ignore[arg-type]
    creates = [c for c in recorder.commands if c.startswith("CREATE ")]
    assert creates and all(" ON CLUSTER '{cluster}'" in c for c in creates)
    assert "usage_hourly__parts ON CLUSTER" in " ".join(creates)
    assert not any("ENGINE = MergeTree" in c or "ENGINE = ReplacingMergeTree" in c for c in creates)
