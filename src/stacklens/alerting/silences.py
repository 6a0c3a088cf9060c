"""Silences: matchers and a time range that mute matching alerts' notifications.

A silence is active from ``starts_at`` until ``ends_at``; expiring one sets
``ends_at`` to now. They live in the metadata database, so ``stacklens silence`` works
beside a running hub (SQLite) and the notification manager sees them at its next flush.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from stacklens.alerting.alert_tables import alert_silences
from stacklens.alerting.durations import rfc3339
from stacklens.alerting.routing import Matcher, parse_matcher
from stacklens.ids import Clock, system_clock_ns
from stacklens.metadata.db import MetadataDB
from stacklens.metadata.text_bounds import bounded_text
from stacklens.privacy.freetext import scrub_free_text

__all__ = ["STACK_LABEL", "Silence", "SilenceStore", "confine_to_stack", "silenced_by"]

#: The label that says which tenant an alert belongs to.
STACK_LABEL = "stack_name"


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at_ns: int
    ends_at_ns: int
    created_by: str
    comment: str

    def active(self, now_ns: int) -> bool:
        return self.starts_at_ns <= now_ns < self.ends_at_ns

    def status(self, now_ns: int) -> str:
        if now_ns < self.starts_at_ns:
            return "pending"
        return "active" if now_ns < self.ends_at_ns else "expired"

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def confined_to(self, stack: str | None) -> bool:
        """Whether the silence belongs to ``stack`` (``None``: every silence does): it
        carries the ``stack_name="<stack>"`` equality matcher a bound key's silences get."""
        return stack is None or Matcher(STACK_LABEL, "=", stack) in self.matchers

    def to_json(self, now_ns: int) -> dict[str, object]:
        """The shape of Alertmanager's ``GettableSilence``."""
        return {
            "id": self.id,
            "matchers": [
                {
                    "name": m.name,
                    "value": m.value,
                    "isRegex": m.op in ("=~", "!~"),
                    "isEqual": m.op in ("=", "=~"),
                }
                for m in self.matchers
            ],
            "startsAt": rfc3339(self.starts_at_ns),
            "endsAt": rfc3339(self.ends_at_ns),
            "createdBy": self.created_by,
            "comment": self.comment,
            "status": {"state": self.status(now_ns)},
        }


def silenced_by(labels: Mapping[str, str], silences: Sequence[Silence], now_ns: int) -> list[str]:
    """Ids of the active silences that match ``labels``."""
    return [s.id for s in silences if s.active(now_ns) and s.matches(labels)]


def confine_to_stack(matchers: Sequence[Matcher], stack: str | None) -> tuple[Matcher, ...]:
    """A stack's silence matchers, with ``stack_name="<stack>"`` enforced (added when
    absent). Any other matcher on ``stack_name`` (``!=``, a regex, another stack) could
    reach another tenant's alerts, so it is refused (``PermissionError``)."""
    found = tuple(matchers)
    if stack is None:
        return found
    own = Matcher(STACK_LABEL, "=", stack)
    for m in found:
        if m.name == STACK_LABEL and m != own:
            raise PermissionError(
                f"this key is bound to stack {stack!r}: a {STACK_LABEL} matcher must be "
                f"{own} (not {m})"
            )
    return found if own in found else (own, *found)


def _encode(matchers: Sequence[Matcher]) -> str:
    return json.dumps([[m.name, m.op, m.value] for m in matchers])


def _decode(text: str) -> tuple[Matcher, ...]:
    return tuple(Matcher(name, op, value) for name, op, value in json.loads(text))


class SilenceStore:
    def __init__(self, db: MetadataDB, *, clock: Clock = system_clock_ns) -> None:
        self._db = db
        self._clock = clock

    def add(
        self,
        matchers: Sequence[Matcher | str],
        *,
        duration_ns: int | None = None,
        ends_at_ns: int | None = None,
        starts_at_ns: int | None = None,
        created_by: str = "",
        comment: str = "",
        stack: str | None = None,
    ) -> Silence:
        """``stack`` confines the silence to one stack (:func:`confine_to_stack`;
        ``PermissionError`` for a matcher naming another)."""
        parsed = tuple(m if isinstance(m, Matcher) else parse_matcher(m) for m in matchers)
        parsed = confine_to_stack(parsed, stack)
        if not parsed:
            raise ValueError("a silence needs at least one matcher")
        if all(m.matches({}) for m in parsed):
            raise ValueError(
                "a silence must not match every alert (all matchers match empty labels)"
            )
        now = self._clock()
        start = now if starts_at_ns is None else starts_at_ns
        if ends_at_ns is None:
            if duration_ns is None or duration_ns <= 0:
                raise ValueError("give a positive duration or an end time")
            ends_at_ns = start + duration_ns
        if ends_at_ns <= start:
            raise ValueError("a silence must end after it starts")
        # Free text on disk: secrets in it are replaced (issue 11).
        created_by, comment = scrub_free_text(created_by), scrub_free_text(comment)
        created_by = bounded_text(created_by, alert_silences.c.created_by, "createdBy")
        comment = bounded_text(comment, alert_silences.c.comment, "comment")
        silence = Silence(str(uuid.uuid4()), parsed, start, ends_at_ns, created_by, comment)
        with self._db.engine.begin() as con:
            con.execute(
                alert_silences.insert().values(
                    id=silence.id,
                    matchers=_encode(parsed),
                    starts_at_ns=start,
                    ends_at_ns=ends_at_ns,
                    created_by=created_by,
                    comment=comment,
                    updated_at_ns=now,
                )
            )
        return silence

    def expire(self, silence_id: str, *, stack: str | None = None) -> bool:
        """End a silence now; ``False`` when no unexpired silence (of ``stack``, when
        given) has that id (or prefix)."""
        now = self._clock()
        with self._db.engine.begin() as con:
            rows = [
                row
                for row in con.execute(
                    sa.select(
                        alert_silences.c.id,
                        alert_silences.c.starts_at_ns,
                        alert_silences.c.matchers,
                    ).where(
                        # Lower case: ids are lower-case UUIDs, and LIKE ignores case
                        # on SQLite but not on PostgreSQL.
                        alert_silences.c.id.startswith(silence_id.lower(), autoescape=True),
                        alert_silences.c.ends_at_ns > now,
                    )
                )
                if stack is None or Matcher(STACK_LABEL, "=", stack) in _decode(row.matchers)
            ]
            if len(rows) != 1:
                return False
            found, starts_at, _ = rows[0]
            con.execute(
                alert_silences.update()
                .where(alert_silences.c.id == found)
                .values(
                    ends_at_ns=now,
                    starts_at_ns=min(starts_at, now),
                    updated_at_ns=now,
                )
            )
        return True

    def list(self, *, include_expired: bool = True, stack: str | None = None) -> list[Silence]:
        """Every silence, or (``stack``) those confined to one stack."""
        # The id breaks ties: without it, equal starts come back in any order.
        query = sa.select(alert_silences).order_by(
            alert_silences.c.starts_at_ns, alert_silences.c.id
        )
        if not include_expired:
            query = query.where(alert_silences.c.ends_at_ns > self._clock())
        with self._db.engine.connect() as con:
            rows = con.execute(query).mappings().all()
        return [
            Silence(
                r["id"],
                _decode(r["matchers"]),
                r["starts_at_ns"],
                r["ends_at_ns"],
                r["created_by"],
                r["comment"],
            )
            for r in rows
            if stack is None or Matcher(STACK_LABEL, "=", stack) in _decode(r["matchers"])
        ]

    def active(self) -> builtins.list[Silence]:
        now = self._clock()
        return [s for s in self.list(include_expired=False) if s.active(now)]
