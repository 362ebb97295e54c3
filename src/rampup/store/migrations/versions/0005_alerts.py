"""Alert rules (from the project file or added at run time), their states and history.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False, server_default=""),
    )
    op.create_index("ux_alert_rules_model_name", "alert_rules", ["model", "name"], unique=True)
    op.create_table(
        "alert_states",
        sa.Column("model", sa.String(63), primary_key=True),
        sa.Column("rule", sa.String(63), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", sa.Float, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("rule", sa.String(63), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("severity", sa.String(16), nullable=True),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_alert_events_model_rule_id", "alert_events", ["model", "rule", "id"])
    op.create_index("ix_alert_events_model_ts", "alert_events", ["model", "ts"])


def downgrade() -> None:
    op.drop_table("alert_events")
    op.drop_table("alert_states")
    op.drop_table("alert_rules")
