"""SQL engines for dialect tests: run one dialect's SQL on its real engine (DuckDB in
memory; ClickHouse through chDB on the process's one chDB path, a fresh database per
engine), with the few spellings a test needs that are not the dialect's to render
(a table of rows, a JSON literal, a table partitioned by day)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import duckdb

from stacklens.store.clickhouse_dialect import CLICKHOUSE
from stacklens.store.dialect import DUCKDB, Dialect

__all__ = ["ChdbEngine", "DuckDBEngine", "SqlEngine", "rows_source"]


class SqlEngine(Protocol):
    dialect: Dialect

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None: ...

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]: ...

    def json_literal(self, text: str) -> str: ...

    def day_partitioned_table(self, name: str) -> str:
        """DDL of ``name (ts timestamp, n int)`` partitioned by UTC day."""
        ...

    def close(self) -> None: ...


def rows_source(names: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A derived table of literal rows, portable (``SELECT ... UNION ALL ...``)."""
    selects = [
        "SELECT " + ", ".join(f"{value} AS {name}" for name, value in zip(names, row, strict=True))
        for row in rows
    ]
    return f"({' UNION ALL '.join(selects)}) AS rows_source"


class DuckDBEngine:
    dialect: Dialect = DUCKDB

    def __init__(self) -> None:
        self._con = duckdb.connect()

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._con.execute(sql, params or {})

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._con.execute(sql, params or {}).fetchall()

    def json_literal(self, text: str) -> str:
        return "'" + text.replace("'", "''") + "'::JSON"

    def day_partitioned_table(self, name: str) -> str:
        return f"CREATE TABLE {name} (ts TIMESTAMP, n BIGINT)"

    def close(self) -> None:
        self._con.close()


class ChdbEngine:
    dialect: Dialect = CLICKHOUSE

    def __init__(self, path: str) -> None:
        from stacklens.store.clickhouse_clients import chdb_clients

        self._client, reader = chdb_clients(path, f"d_{uuid.uuid4().hex[:16]}")
        reader.close()

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._client.command(sql, parameters=params or {}, settings={"mutations_sync": 2})

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        result = self._client.query(sql, parameters=params or {}, settings={"final": 1})
        return [tuple(r) for r in result.result_rows]

    def json_literal(self, text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def day_partitioned_table(self, name: str) -> str:
        return (
            f"CREATE TABLE {name} (ts DateTime64(6, 'UTC'), n Int64) ENGINE = MergeTree "
            "PARTITION BY toDate(ts) ORDER BY ts"
        )

    def close(self) -> None:
        self._client.close()
