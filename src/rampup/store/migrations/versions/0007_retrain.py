"""Retraining runs: why each started, its dataset, evaluation, replay, verdict, rollout.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retrain_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False, server_default=""),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("since", sa.Float, nullable=True),
        sa.Column("champion", sa.String(63), nullable=True),
        sa.Column("candidate", sa.String(63), nullable=True),
        sa.Column("dataset", sa.JSON, nullable=True),
        sa.Column("evaluation", sa.JSON, nullable=True),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("reasons", sa.JSON, nullable=True),
        sa.Column("replay", sa.JSON, nullable=True),
        sa.Column("rollout_id", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("log_tail", sa.Text, nullable=True),
        sa.Column("run_dir", sa.Text, nullable=True),
    )
    op.create_index("ix_retrain_runs_model_id", "retrain_runs", ["model", "id"])
    op.create_index("ix_retrain_runs_state", "retrain_runs", ["state"])


def downgrade() -> None:
    op.drop_table("retrain_runs")
