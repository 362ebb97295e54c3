"""Named, hashed credentials (admin and reviewer tokens) and per-project secrets (the key
of the privacy hash). Indexes for retention and erasure by request key.

Revision ID: 0013
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False, server_default=""),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_index("ix_tokens_kind_name", "tokens", ["kind", "name"])
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_predictions_request_key", "predictions", ["request_key"])
    op.create_index("ix_predictions_ts", "predictions", ["ts"])
    op.create_index("ix_feedback_ts", "feedback", ["ts"])


def downgrade() -> None:
    op.drop_index("ix_feedback_ts", "feedback")
    op.drop_index("ix_predictions_ts", "predictions")
    op.drop_index("ix_predictions_request_key", "predictions")
    op.drop_table("secrets")
    op.drop_table("tokens")
