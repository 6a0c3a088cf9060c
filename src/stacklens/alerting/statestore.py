"""Alert state and history in the metadata database.

The evaluator saves a rule's series whenever they change, so a restarted hub resumes
where it stopped: pending series keep their start (``for`` is not restarted), firing
ones stay firing (and the notification log keeps them from being re-sent).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from stacklens.alerting.alert_tables import alert_history, alert_rule_health, alert_states
from stacklens.alerting.state import Alert, AlertState, Transition
from stacklens.metadata.db import MetadataDB
from stacklens.metadata.text_bounds import clipped_text
from stacklens.metadata.upsert import upsert
from stacklens.privacy.freetext import scrub_free_text

__all__ = ["AlertStateStore"]


def _row(alert: Alert) -> dict[str, Any]:
    return {
        "rule_key": clipped_text(alert.rule_key, alert_states.c.rule_key),
        "fingerprint": alert.fingerprint,
        "state": alert.state.value,
        "labels": json.dumps(dict(alert.labels), sort_keys=True),
        "annotations": json.dumps(dict(alert.annotations), sort_keys=True),
        "value": alert.value,
        "active_at_ns": alert.active_at_ns,
        "last_true_ns": alert.last_true_ns,
        "fired_at_ns": alert.fired_at_ns,
        "resolved_at_ns": alert.resolved_at_ns,
    }


class AlertStateStore:
    def __init__(self, db: MetadataDB, *, history_keep: int = 50_000) -> None:
        self._db = db
        self._history_keep = history_keep
        self._history_writes = 0

    def load(self) -> dict[str, dict[str, Alert]]:
        out: dict[str, dict[str, Alert]] = {}
        with self._db.engine.connect() as con:
            for r in con.execute(sa.select(alert_states)).mappings():
                alert = Alert(
                    rule_key=r["rule_key"],
                    fingerprint=r["fingerprint"],
                    labels=json.loads(r["labels"]),
                    annotations=json.loads(r["annotations"]),
                    state=AlertState(r["state"]),
                    value=r["value"],
                    active_at_ns=r["active_at_ns"],
                    last_true_ns=r["last_true_ns"],
                    fired_at_ns=r["fired_at_ns"],
                    resolved_at_ns=r["resolved_at_ns"],
                )
                out.setdefault(alert.rule_key, {})[alert.fingerprint] = alert
        return out

    def save(
        self, changed: Mapping[str, Mapping[str, Alert]], transitions: Iterable[Transition]
    ) -> None:
        """Replace the stored series of each rule in ``changed``; append transitions."""
        history = [
            {
                "at_ns": t.at_ns,
                "rule_key": clipped_text(t.rule_key, alert_history.c.rule_key),
                "fingerprint": t.fingerprint,
                "labels": json.dumps(dict(t.labels), sort_keys=True),
                "previous": t.previous.value,
                "current": t.current.value,
                "value": t.value,
            }
            for t in transitions
        ]
        if not changed and not history:
            return
        with self._db.engine.begin() as con:
            for rule_key, alerts in changed.items():
                con.execute(alert_states.delete().where(alert_states.c.rule_key == rule_key))
                if alerts:
                    con.execute(alert_states.insert(), [_row(a) for a in alerts.values()])
            if history:
                con.execute(alert_history.insert(), history)
                self._history_writes += len(history)
                if self._history_writes >= 1000:
                    self._history_writes = 0
                    newest = con.execute(sa.select(sa.func.max(alert_history.c.id))).scalar() or 0
                    con.execute(
                        alert_history.delete().where(
                            alert_history.c.id <= newest - self._history_keep
                        )
                    )

    def drop_rules_except(self, keep: Iterable[str]) -> None:
        """Forget the state of rules no longer configured."""
        keep = list(keep)
        with self._db.engine.begin() as con:
            con.execute(alert_states.delete().where(alert_states.c.rule_key.not_in(keep)))
            con.execute(alert_rule_health.delete().where(alert_rule_health.c.rule_key.not_in(keep)))

    def save_health(self, health: Mapping[str, Mapping[str, Any]]) -> None:
        """Write each rule's last evaluation (``rule key → the columns of
        alert_rule_health``), one upsert per rule in one transaction. An error text
        is a driver's message: scrubbed like any text bound for the database."""
        if not health:
            return
        with self._db.engine.begin() as con:
            for rule_key, columns in health.items():
                row = {
                    **columns,
                    "rule_key": clipped_text(rule_key, alert_rule_health.c.rule_key),
                    "last_error": clipped_text(
                        error
                        if (error := columns.get("last_error")) is None
                        else scrub_free_text(error),
                        alert_rule_health.c.last_error,
                    ),
                }
                upsert(con, alert_rule_health, row, ["rule_key"])

    def load_health(self) -> dict[str, dict[str, Any]]:
        """Each rule's last evaluation as the leader saved it."""
        with self._db.engine.connect() as con:
            rows = con.execute(sa.select(alert_rule_health)).mappings()
            return {r["rule_key"]: {k: v for k, v in r.items() if k != "rule_key"} for r in rows}

    def history(
        self, *, limit: int = 100, rule_key: str | None = None, since_ns: int | None = None
    ) -> list[dict[str, Any]]:
        query = sa.select(alert_history).order_by(alert_history.c.id.desc()).limit(limit)
        if rule_key is not None:
            query = query.where(alert_history.c.rule_key == rule_key)
        if since_ns is not None:
            query = query.where(alert_history.c.at_ns >= since_ns)
        with self._db.engine.connect() as con:
            rows = [dict(r) for r in con.execute(query).mappings()]
        for row in rows:
            row["labels"] = json.loads(row["labels"])
            del row["id"]
        return rows
