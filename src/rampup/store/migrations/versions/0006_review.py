"""The human review queue and automation levels (tables added by the automation work).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("version", sa.String(63), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("suggestion", sa.JSON, nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("show_suggestion", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("choices", sa.JSON, nullable=True),
        sa.Column("weight", sa.Float, nullable=False, server_default="1"),
        sa.Column("reviewers_needed", sa.Integer, nullable=False, server_default="1"),
        sa.Column("n_labels", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.Column("claimed_until", sa.Float, nullable=True),
        sa.Column("decided_at", sa.Float, nullable=True),
        sa.Column("final_label", sa.JSON, nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_review_items_queue", "review_items",
                    ["model", "status", "priority", "created_at"])
    op.create_index("ix_review_items_model_created", "review_items", ["model", "created_at"])
    op.create_table(
        "review_labels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("reviewer", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("label", sa.JSON, nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ux_review_labels_item_reviewer_kind", "review_labels",
                    ["item_id", "reviewer", "kind"], unique=True)
    op.create_index("ix_review_labels_model_ts", "review_labels", ["model", "ts"])
    op.create_table(
        "automation_levels",
        sa.Column("model", sa.String(63), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("automation_levels")
    op.drop_table("review_labels")
    op.drop_table("review_items")
