"""Monitoring snapshots: one row per model x version x role x stage x window x replica.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_windows",
        sa.Column("model", sa.String(63), primary_key=True),
        sa.Column("version", sa.String(63), primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("stage", sa.String(63), primary_key=True),
        sa.Column("window_start", sa.Float, primary_key=True),
        sa.Column("replica", sa.String(128), primary_key=True),
        sa.Column("window_s", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_metric_windows_model_start", "metric_windows", ["model", "window_start"])
    op.create_index("ix_metric_windows_start", "metric_windows", ["window_start"])


def downgrade() -> None:
    op.drop_table("metric_windows")
