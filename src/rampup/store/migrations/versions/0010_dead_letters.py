"""Dead letters: records a background worker could not write, kept with the reason.

Revision ID: 0010
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("worker", sa.String(63), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("key", sa.String(255), nullable=True),
        sa.Column("model", sa.String(63), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("payload_chars", sa.Integer, nullable=False),
        sa.Column("replica", sa.String(128), nullable=False, server_default=""),
    )
    op.create_index("ix_dead_letters_ts", "dead_letters", ["ts"])
    op.create_index("ix_dead_letters_worker_ts", "dead_letters", ["worker", "ts"])


def downgrade() -> None:
    op.drop_table("dead_letters")
