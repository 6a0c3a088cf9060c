"""Each alert rule's last evaluation, shared by the replicas (``alert_rule_health``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

The leader writes it after each group's evaluation; a standby reads it, so every
replica behind a load balancer answers ``/api/v1/rules`` with the same health. Created
only when missing, as the baseline does, so a database a ``create_all`` of these
tables made is adopted as it stands.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "alert_rule_health" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "alert_rule_health",
        sa.Column("rule_key", sa.String(400), primary_key=True),
        sa.Column("health", sa.String(16), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("last_evaluation_ns", sa.BigInteger, nullable=True),
        sa.Column("evaluation_ms", sa.Float, nullable=False),
        sa.Column("series", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_rule_health")
