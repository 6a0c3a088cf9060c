"""The baseline: every metadata table as the versions before migrations created them.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Databases written by those versions (``metadata.create_all``, no ``alembic_version``)
already hold some or all of these tables: which ones depended on the parts a hub had
installed (``budgets`` and ``console_sessions`` were created on first use). So each
table and index is created only when missing, which makes this revision adopt such a
database as it stands and complete it, and creates everything in a new one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tables() -> list[tuple[str, list[sa.schema.SchemaItem], list[tuple[str, str]]]]:
    """``(table, columns and constraints, [(index, column)])`` of the baseline."""
    return [
        (
            "stacks",
            [
                sa.Column("name", sa.String(63), primary_key=True),
                sa.Column("created_ns", sa.BigInteger, nullable=False),
                sa.Column("description", sa.String(500), nullable=True),
                sa.Column("health_url", sa.String(2000), nullable=True),
            ],
            [],
        ),
        (
            "api_keys",
            [
                sa.Column("key_id", sa.String(26), primary_key=True),
                sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
                sa.Column("prefix", sa.String(16), nullable=False),
                sa.Column("role", sa.String(16), nullable=False),
                sa.Column("stack_name", sa.String(63), nullable=True),
                sa.Column("label", sa.String(200), nullable=True),
                sa.Column("created_ns", sa.BigInteger, nullable=False),
                sa.Column("revoked_ns", sa.BigInteger, nullable=True),
            ],
            [],
        ),
        (
            "alert_states",
            [
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
            ],
            [],
        ),
        (
            "alert_history",
            [
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("at_ns", sa.BigInteger, nullable=False),
                sa.Column("rule_key", sa.String(400), nullable=False),
                sa.Column("fingerprint", sa.String(16), nullable=False),
                sa.Column("labels", sa.Text, nullable=False),
                sa.Column("previous", sa.String(16), nullable=False),
                sa.Column("current", sa.String(16), nullable=False),
                sa.Column("value", sa.Float, nullable=False),
            ],
            [("ix_alert_history_at_ns", "at_ns")],
        ),
        (
            "alert_silences",
            [
                sa.Column("id", sa.String(36), primary_key=True),
                sa.Column("matchers", sa.Text, nullable=False),
                sa.Column("starts_at_ns", sa.BigInteger, nullable=False),
                sa.Column("ends_at_ns", sa.BigInteger, nullable=False),
                sa.Column("created_by", sa.String(200), nullable=False),
                sa.Column("comment", sa.String(2000), nullable=False),
                sa.Column("updated_at_ns", sa.BigInteger, nullable=False),
            ],
            [("ix_alert_silences_ends_at_ns", "ends_at_ns")],
        ),
        (
            "alert_nflog",
            [
                sa.Column("integration", sa.String(300), primary_key=True),
                sa.Column("group_key", sa.String(2000), primary_key=True),
                sa.Column("firing", sa.Text, nullable=False),
                sa.Column("resolved", sa.Text, nullable=False),
                sa.Column("sent_at_ns", sa.BigInteger, nullable=False),
            ],
            [],
        ),
        (
            "alert_notifications",
            [
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                sa.Column("at_ns", sa.BigInteger, nullable=False),
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
            ],
            [("ix_alert_notifications_at_ns", "at_ns")],
        ),
        (
            "budgets",
            [
                sa.Column("stack_name", sa.String(63), primary_key=True),
                sa.Column("monthly_usd", sa.Float, nullable=True),
                sa.Column("monthly_tokens", sa.BigInteger, nullable=True),
                sa.Column("updated_ns", sa.BigInteger, nullable=False),
            ],
            [],
        ),
        (
            "erasures",
            [
                sa.Column("audit_id", sa.String(26), primary_key=True),
                sa.Column("at_ns", sa.BigInteger, nullable=False),
                sa.Column("key_id", sa.String(26), nullable=False),
                sa.Column("user_pseudonym", sa.String(64), nullable=False),
                sa.Column("counts", sa.Text, nullable=False),
            ],
            [],
        ),
        (
            "console_sessions",
            [
                sa.Column("id_hash", sa.String(64), primary_key=True),
                sa.Column("key_id", sa.String(64), nullable=False),
                sa.Column("created_ns", sa.BigInteger, nullable=False),
                sa.Column("expires_ns", sa.BigInteger, nullable=False),
            ],
            [("ix_console_sessions_key_id", "key_id")],
        ),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, items, indexes in _tables():
        if name not in existing:
            op.create_table(name, *items)
        present = (
            set() if name not in existing else {i["name"] for i in inspector.get_indexes(name)}
        )
        for index, column in indexes:
            if index not in present:
                op.create_index(index, name, [column])


def downgrade() -> None:
    for name, _, indexes in reversed(_tables()):
        for index, _column in indexes:
            op.drop_index(index, table_name=name)
        op.drop_table(name)
