"""The notification log: every delivery attempt (``alert_notifications``) and, per
integration and group, what was last delivered (``alert_nflog``, the dedup record
that keeps a restart from re-notifying).

Targets are stored redacted (scheme+host) and errors with secrets scrubbed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from stacklens.alerting.alert_tables import alert_nflog, alert_notifications
from stacklens.alerting.dispatch import NflogEntry
from stacklens.metadata.db import MetadataDB
from stacklens.metadata.text_bounds import clipped_text
from stacklens.metadata.upsert import upsert

__all__ = ["Attempt", "NotificationLog"]


@dataclass(frozen=True)
class Attempt:
    at_ns: int
    receiver: str
    integration: str
    group_key: str
    status: str  # firing | resolved
    alerts: int
    attempt: int
    outcome: str  # success | failure | retry
    target: str
    error: str | None
    duration_ms: float


class NotificationLog:
    def __init__(self, db: MetadataDB, *, keep: int = 10_000) -> None:
        self._db = db
        self._keep = keep
        self._writes = 0
        self._nflog: dict[tuple[str, str], NflogEntry] = {}
        self._load_nflog()

    def _load_nflog(self) -> None:
        loaded: dict[tuple[str, str], NflogEntry] = {}
        with self._db.engine.connect() as con:
            for row in con.execute(sa.select(alert_nflog)).mappings():
                loaded[(row["integration"], row["group_key"])] = NflogEntry(
                    frozenset(json.loads(row["firing"])),
                    frozenset(json.loads(row["resolved"])),
                    row["sent_at_ns"],
                )
        self._nflog = loaded

    def reload(self) -> None:
        """Re-read the dedup record (another replica may have written it)."""
        self._load_nflog()

    def entry(self, integration: str, group_key: str) -> NflogEntry | None:
        return self._nflog.get((integration, group_key))

    def set_entry(self, integration: str, group_key: str, entry: NflogEntry) -> None:
        self._nflog[(integration, group_key)] = entry
        row = {
            "integration": clipped_text(integration, alert_nflog.c.integration),
            "group_key": clipped_text(group_key, alert_nflog.c.group_key),
            "firing": json.dumps(sorted(entry.firing)),
            "resolved": json.dumps(sorted(entry.resolved)),
            "sent_at_ns": entry.sent_at_ns,
        }
        with self._db.engine.begin() as con:
            upsert(con, alert_nflog, row, ["integration", "group_key"])

    def record(self, attempt: Attempt) -> None:
        with self._db.engine.begin() as con:
            row = dict(attempt.__dict__)
            for name in ("receiver", "integration", "group_key", "status", "target", "error"):
                row[name] = clipped_text(row[name], alert_notifications.c[name])
            con.execute(alert_notifications.insert().values(**row))
            self._writes += 1
            if self._writes % 500 == 0:
                newest = con.execute(sa.select(sa.func.max(alert_notifications.c.id))).scalar() or 0
                con.execute(
                    alert_notifications.delete().where(
                        alert_notifications.c.id <= newest - self._keep
                    )
                )

    def list(
        self, *, limit: int = 100, receiver: str | None = None, outcome: str | None = None
    ) -> list[dict[str, Any]]:
        query = (
            sa.select(alert_notifications).order_by(alert_notifications.c.id.desc()).limit(limit)
        )
        if receiver is not None:
            query = query.where(alert_notifications.c.receiver == receiver)
        if outcome is not None:
            query = query.where(alert_notifications.c.outcome == outcome)
        with self._db.engine.connect() as con:
            return [dict(row) for row in con.execute(query).mappings()]
