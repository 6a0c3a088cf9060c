"""Metadata tables of alerting, declared on the shared MetaData object (the metadata
migrations create them; ``stacklens.metadata.declared`` gathers them for the schema test).

- ``alert_states``: every pending/firing/recently resolved series (survives restarts);
- ``alert_history``: state transitions (``GET /api/v1/alerts/history``);
- ``alert_silences``: silences (API and ``stacklens silence``);
- ``alert_nflog``: what each integration was last sent per group (dedup across restarts);
- ``alert_notifications``: every delivery attempt (``GET /api/v1/notifications``).
"""

from __future__ import annotations

import sqlalchemy as sa

from stacklens.metadata.tables import metadata

__all__ = ["alert_history", "alert_nflog", "alert_notifications", "alert_silences", "alert_states"]

alert_states = sa.Table(
    "alert_states",
    metadata,
    sa.Column("rule_key", sa.String(400), primary_key=True),
    sa.Column("fingerprint", sa.String(16), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("annotations", sa.Text, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("active_at_ns", sa.BigInteger, nullable=False),
    sa.Column("last_true_ns", sa.BigInteger, nullable=False),
    sa.Column("fired_at_ns", sa.BigInteger, nullable=True),
    sa.Column("resolved_at_ns", sa.BigInteger, nullable=True),
)

alert_history = sa.Table(
    "alert_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at_ns", sa.BigInteger, nullable=False, index=True),
    sa.Column("rule_key", sa.String(400), nullable=False),
    sa.Column("fingerprint", sa.String(16), nullable=False),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("previous", sa.String(16), nullable=False),
    sa.Column("current", sa.String(16), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
)

alert_silences = sa.Table(
    "alert_silences",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("matchers", sa.Text, nullable=False),
    sa.Column("starts_at_ns", sa.BigInteger, nullable=False),
    sa.Column("ends_at_ns", sa.BigInteger, nullable=False, index=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("comment", sa.String(2000), nullable=False),
    sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
)

alert_nflog = sa.Table(
    "alert_nflog",
    metadata,
    sa.Column("integration", sa.String(300), primary_key=True),
    sa.Column("group_key", sa.String(2000), primary_key=True),
    sa.Column("firing", sa.Text, nullable=False),
    sa.Column("resolved", sa.Text, nullable=False),
    sa.Column("sent_at_ns", sa.BigInteger, nullable=False),
)

alert_notifications = sa.Table(
    "alert_notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at_ns", sa.BigInteger, nullable=False, index=True),
    sa.Column("receiver", sa.String(200), nullable=False),
    sa.Column("integration", sa.String(300), nullable=False),
    sa.Column("group_key", sa.String(2000), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("alerts", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("error", sa.String(2000), nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=False),
)

#: Each rule's last evaluation, as the leader saw it: a standby replica shows it in
#: ``/api/v1/rules`` (it evaluates nothing itself, so it would only know "unknown").
alert_rule_health = sa.Table(
    "alert_rule_health",
    metadata,
    sa.Column("rule_key", sa.String(400), primary_key=True),
    sa.Column("health", sa.String(16), nullable=False),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("last_evaluation_ns", sa.BigInteger, nullable=True),
    sa.Column("evaluation_ms", sa.Float, nullable=False),
    sa.Column("series", sa.Integer, nullable=False),
)
