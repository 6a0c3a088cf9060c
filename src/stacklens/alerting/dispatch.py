"""Aggregation groups and the notification log's dedup rule, pure (Alertmanager's
dispatcher and ``DedupStage``).

Firing and resolved alerts are :meth:`Dispatcher.put` into the groups of every route
they match. A new group is flushed after ``group_wait`` (at once when its alert started
longer ago than that, e.g. after a restart), then every ``group_interval``. At a flush,
for each integration of the route's receiver: muted (silenced or inhibited) alerts are
left out; :func:`needs_update` compares the firing/resolved sets with what that
integration was last sent (the persisted notification log) and re-sends unchanged
groups only after ``repeat_interval``. The caller delivers the :class:`Notification`
and records it in the log only when delivery succeeded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from stacklens.alerting.routing import Route, group_key, group_labels, match_routes
from stacklens.alerting.state import Alert, AlertState

__all__ = [
    "AggregationGroup",
    "Dispatcher",
    "Integration",
    "NflogEntry",
    "Notification",
    "needs_update",
]


@dataclass(frozen=True)
class Integration:
    """One delivery channel of a receiver (``receiver/kind/index``)."""

    id: str
    receiver: str
    send_resolved: bool = True


@dataclass(frozen=True)
class NflogEntry:
    """What an integration was last sent for a group."""

    firing: frozenset[str]
    resolved: frozenset[str]
    sent_at_ns: int


@dataclass(frozen=True)
class Notification:
    integration: Integration
    group_key: str
    group_labels: Mapping[str, str]
    #: What is sent: firing alerts, plus resolved ones when ``send_resolved``.
    alerts: tuple[Alert, ...]
    #: The sets recorded in the notification log after a successful delivery.
    firing: frozenset[str]
    resolved: frozenset[str]
    #: When the integration was last sent this group (the log's entry this one follows).
    previous_sent_ns: int | None = None

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt at this notification, on any replica: a function of
        what is sent and of the log entry it follows, both in the shared database. A new
        leader re-sending a notification whose delivery was in flight when the old one
        died sends the same key; any later notification (whose log entry differs) a new
        one. Receivers that dedup on it see each notification once."""
        basis = [
            self.integration.id,
            self.group_key,
            sorted(self.firing),
            sorted(self.resolved),
            self.previous_sent_ns,
        ]
        digest = hashlib.sha256(json.dumps(basis, separators=(",", ":")).encode()).hexdigest()
        return digest[:32]

    @property
    def status(self) -> str:
        return "firing" if any(a.state is AlertState.FIRING for a in self.alerts) else "resolved"


def needs_update(
    entry: NflogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    send_resolved: bool,
    repeat_interval_ns: int,
    now_ns: int,
) -> bool:
    """Alertmanager's ``DedupStage.needsUpdate``."""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        # Everything resolved: tell the receiver only if it was told something fired.
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.sent_at_ns <= now_ns - repeat_interval_ns


@dataclass
class AggregationGroup:
    key: str
    route: Route
    labels: dict[str, str]
    next_flush_ns: int
    flushed: bool = False
    alerts: dict[str, Alert] = field(default_factory=dict)


class Dispatcher:
    """Holds aggregation groups; every method takes the time (no clock of its own)."""

    def __init__(self, root: Route, integrations: Mapping[str, Sequence[Integration]]) -> None:
        self.root = root
        self.integrations = integrations
        self.groups: dict[str, AggregationGroup] = {}

    def put(self, alerts: Iterable[Alert], now_ns: int) -> None:
        for alert in alerts:
            if alert.state not in (AlertState.FIRING, AlertState.RESOLVED):
                continue
            for route in match_routes(self.root, alert.labels):
                key = group_key(route, alert.labels)
                group = self.groups.get(key)
                if group is None:
                    group = AggregationGroup(
                        key,
                        route,
                        group_labels(route, alert.labels),
                        next_flush_ns=now_ns + route.group_wait_ns,
                    )
                    self.groups[key] = group
                if not group.flushed and alert.starts_at_ns + route.group_wait_ns <= now_ns:
                    group.next_flush_ns = min(group.next_flush_ns, now_ns)
                group.alerts[alert.fingerprint] = alert

    def next_due_ns(self) -> int | None:
        return min((g.next_flush_ns for g in self.groups.values()), default=None)

    def flush_due(
        self,
        now_ns: int,
        *,
        muted: Callable[[Alert], bool],
        nflog: Callable[[str, str], NflogEntry | None],
    ) -> list[Notification]:
        """Flush every group whose time has come; ``nflog(integration_id, group_key)``
        returns the last entry logged."""
        out: list[Notification] = []
        for key in sorted(self.groups):
            group = self.groups[key]
            if group.next_flush_ns > now_ns:
                continue
            group.flushed = True
            group.next_flush_ns = now_ns + group.route.group_interval_ns
            alerts = sorted(group.alerts.values(), key=lambda a: (a.starts_at_ns, a.fingerprint))
            unmuted = [a for a in alerts if not muted(a)]
            if unmuted:
                out.extend(self._notifications(group, unmuted, now_ns, nflog))
            for fp, alert in list(group.alerts.items()):
                if alert.state is AlertState.RESOLVED:
                    del group.alerts[fp]
            if not group.alerts:
                del self.groups[key]
        return out

    def _notifications(
        self,
        group: AggregationGroup,
        alerts: list[Alert],
        now_ns: int,
        nflog: Callable[[str, str], NflogEntry | None],
    ) -> list[Notification]:
        firing = frozenset(a.fingerprint for a in alerts if a.state is AlertState.FIRING)
        resolved = frozenset(a.fingerprint for a in alerts if a.state is AlertState.RESOLVED)
        out = []
        for integration in self.integrations.get(group.route.receiver, ()):
            entry = nflog(integration.id, group.key)
            if not needs_update(
                entry,
                firing,
                resolved,
                send_resolved=integration.send_resolved,
                repeat_interval_ns=group.route.repeat_interval_ns,
                now_ns=now_ns,
            ):
                continue
            sent = tuple(
                a for a in alerts if a.state is AlertState.FIRING or integration.send_resolved
            )
            out.append(
                Notification(
                    integration,
                    group.key,
                    dict(group.labels),
                    sent,
                    firing,
                    resolved,
                    previous_sent_ns=None if entry is None else entry.sent_at_ns,
                )
            )
        return out
