"""What the ClickHouse store needs of a ``clickhouse-connect`` client, the session
settings every statement runs with, and which server errors blame the rows."""

from __future__ import annotations

from typing import Any, Final, Protocol

__all__ = ["READ_SETTINGS", "WRITE_SETTINGS", "ClickHouseClient", "is_data_error"]

#: Every read: FINAL on each ReplacingMergeTree (exact without merges), LEFT JOINs
#: that miss give NULL, a bare UNION means DISTINCT, and a column wins over an output
#: alias of the same name inside expressions (`SELECT sum(events) AS events`): as SQL.
READ_SETTINGS: Final = {
    "final": 1,
    "join_use_nulls": 1,
    "union_default_mode": "DISTINCT",
    "prefer_column_name_to_alias": 1,
    # Rows with one sorting key (ts among it) always share a day partition: FINAL
    # need not merge across partitions, and runs per partition in parallel.
    "do_not_merge_across_partitions_select_final": 1,
}
#: Writes are synchronous and wait for mutations (a DELETE/UPDATE is done on return).
WRITE_SETTINGS: Final = {
    **READ_SETTINGS,
    "async_insert": 0,
    "insert_deduplicate": 1,
    "mutations_sync": 2,
    "lightweight_deletes_sync": 2,
}
#: ClickHouse error codes that blame the rows, not the server (retrying cannot help).
_DATA_ERROR_CODES: Final = frozenset(
    {6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 190, 321, 349, 407, 691}
)


class ClickHouseClient(Protocol):
    """What the adapter uses of a ``clickhouse_connect`` client (a fault-injecting
    wrapper in :mod:`stacklens.testing.clickhouse_faults` has the same shape)."""

    def command(
        self, cmd: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any: ...

    def query(
        self, query: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any: ...

    def query_arrow(
        self, query: str, parameters: Any = None, settings: dict[str, Any] | None = None
    ) -> Any: ...

    def insert_arrow(
        self, table: str, arrow_table: Any, database: str | None = None, settings: Any = None
    ) -> Any: ...

    def set_client_setting(self, key: str, value: Any) -> None: ...

    def close(self) -> None: ...


def is_data_error(exc: BaseException) -> bool:
    """Whether ClickHouse refused the rows themselves (retrying cannot help)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code in _DATA_ERROR_CODES
    text = str(exc)
    return any(f"Code: {c}." in text for c in _DATA_ERROR_CODES)
