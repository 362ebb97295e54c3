"""Initial schema: models, versions, deployments, predictions, feedback, events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("config", sa.JSON, nullable=False),
    )
    op.create_table(
        "versions",
        sa.Column("model", sa.String(63), sa.ForeignKey("models.name"), primary_key=True),
        sa.Column("version", sa.String(63), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("flavor", sa.String(32), nullable=False),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("artifact_hash", sa.String(71), nullable=False),
        sa.Column("input_schema", sa.JSON, nullable=False),
        sa.Column("output", sa.JSON, nullable=False),
        sa.Column("profile", sa.JSON, nullable=True),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.UniqueConstraint("model", "seq", name="uq_versions_model_seq"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(63), sa.ForeignKey("models.name"), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_deployments_model_id", "deployments", ["model", "id"])
    op.create_table(
        "predictions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("version", sa.String(63), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(63), nullable=True),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text, nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("request_key", sa.String(255), nullable=True),
    )
    op.create_index("ix_predictions_model_ts", "predictions", ["model", "ts"])
    op.create_index("ix_predictions_request_id", "predictions", ["request_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prediction_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_feedback_prediction_id", "feedback", ["prediction_id"])
    op.create_index("ix_feedback_model_ts", "feedback", ["model", "ts"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("model", sa.String(63), nullable=True),
        sa.Column("version", sa.String(63), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_events_model_id", "events", ["model", "id"])


def downgrade() -> None:
    for table in ("events", "feedback", "predictions", "deployments", "versions", "models"):
        op.drop_table(table)
