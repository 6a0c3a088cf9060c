"""The erasure audit: one record per user erasure, in the metadata database.

A record says when, which API key asked, whose data (the user's pseudonym, never the
raw id: the audit must not become the place that still holds what was erased) and
how many rows each tier lost. Records are only ever added.
"""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa

from stacklens.metadata.tables import metadata

__all__ = ["ErasureAudit", "ErasureRecord", "erasures_table"]

erasures_table = sa.Table(
    "erasures",
    metadata,
    sa.Column("audit_id", sa.String(26), primary_key=True),
    sa.Column("at_ns", sa.BigInteger, nullable=False),
    sa.Column("key_id", sa.String(26), nullable=False),
    sa.Column("user_pseudonym", sa.String(64), nullable=False),
    #: JSON: rows removed per tier and billing records anonymized.
    sa.Column("counts", sa.Text, nullable=False),
)


class ErasureRecord(msgspec.Struct, frozen=True):
    audit_id: str
    at_ns: int
    key_id: str
    user_pseudonym: str
    counts: dict[str, Any]


class ErasureAudit:
    """Append and list erasure records (table ``erasures``)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self._engine = engine

    def record(self, entry: ErasureRecord) -> None:
        with self._engine.begin() as con:
            con.execute(
                erasures_table.insert().values(
                    audit_id=entry.audit_id,
                    at_ns=entry.at_ns,
                    key_id=entry.key_id,
                    user_pseudonym=entry.user_pseudonym,
                    counts=msgspec.json.encode(entry.counts).decode(),
                )
            )

    def list(self) -> list[ErasureRecord]:
        with self._engine.connect() as con:
            rows = con.execute(
                erasures_table.select().order_by(erasures_table.c.at_ns, erasures_table.c.audit_id)
            ).all()
        return [
            ErasureRecord(
                r.audit_id, r.at_ns, r.key_id, r.user_pseudonym, msgspec.json.decode(r.counts)
            )
            for r in rows
        ]
