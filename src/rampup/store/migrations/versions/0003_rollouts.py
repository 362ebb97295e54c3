"""Rollouts (persisted state machine) and the check results of every step.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(63), sa.ForeignKey("models.name"), nullable=False),
        sa.Column("candidate", sa.String(63), nullable=False),
        sa.Column("baseline", sa.String(63), nullable=False),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("plan", sa.JSON, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("step_started_at", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("paused_state", sa.String(32), nullable=True),
        sa.Column("promoted_at", sa.Float, nullable=True),
        sa.Column("standby_released", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("salt", sa.String(64), nullable=False, server_default="rampup"),
        sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_rollouts_model_id", "rollouts", ["model", "id"])
    op.create_table(
        "rollout_checks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rollout_id", sa.Integer, sa.ForeignKey("rollouts.id"), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("results", sa.JSON, nullable=False),
    )
    op.create_index("ix_rollout_checks_rollout_id", "rollout_checks", ["rollout_id", "id"])


def downgrade() -> None:
    op.drop_table("rollout_checks")
    op.drop_table("rollouts")
