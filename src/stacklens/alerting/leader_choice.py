"""How a hub's alert engine is given its leadership, from the metadata database.

- PostgreSQL: replicas may share it, so they elect a leader on a session advisory lock
  (:mod:`stacklens.alerting.pg_advisory_lock`), a standby retrying every
  :func:`retry_interval_s`.
- SQLite (and anything else): one hub, always the leader. A SQLite file lives on one
  machine and by default in one hub's data dir; several replicas need a database
  they can all reach, and SQLite over a network file system is not one (its locking
  is unreliable there). An OS file lock would only elect among processes on one box,
  which is no availability gain over restarting the one hub.
"""

from __future__ import annotations

from stacklens.alerting.leadership import Elector, Leadership, SoleLeader
from stacklens.alerting.pg_advisory_lock import PostgresAdvisoryLock
from stacklens.alerting.rules import RuleSet
from stacklens.ids import Clock
from stacklens.metadata.db import MetadataDB

__all__ = ["MAX_RETRY_INTERVAL_S", "leadership_for", "retry_interval_s"]

#: A standby tries the lock at least this often, however long the rules' intervals.
MAX_RETRY_INTERVAL_S = 5.0


def retry_interval_s(rules: RuleSet) -> float:
    """The shortest rule group interval, at most :data:`MAX_RETRY_INTERVAL_S`: a standby
    takes over at most this long after the lock frees, then evaluates at once, well
    within two evaluation intervals."""
    shortest = min((g.interval_ns for g in rules.groups), default=int(MAX_RETRY_INTERVAL_S * 1e9))
    return min(shortest / 1e9, MAX_RETRY_INTERVAL_S)


def leadership_for(metadata: MetadataDB, rules: RuleSet, *, clock: Clock) -> Leadership:
    if metadata.engine.dialect.name != "postgresql":
        return SoleLeader()
    return Elector(
        PostgresAdvisoryLock(metadata.engine.url.render_as_string(hide_password=False)),
        clock=clock,
        retry_interval_s=retry_interval_s(rules),
        method="postgresql advisory lock",
    )
