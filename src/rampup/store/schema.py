"""Table definitions (SQLAlchemy Core). Migrations in ``migrations/`` create exactly these.

Times are UTC epoch seconds stored as floats: portable across SQLite and PostgreSQL and
cheap to bucket into monitoring windows. JSON documents are stored with ``sa.JSON``;
prediction inputs/outputs are pre-serialised text written by the log writer.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

NAME = 63
ID = 64
#: the database keeps at most one row per model in these states (partial unique indexes)
ACTIVE_ROLLOUT = ("state IN ('pending', 'shadow', 'canary', 'bluegreen', "
                  "'awaiting_approval', 'paused')")
ACTIVE_RUN = "state IN ('queued', 'running')"
#: a time-ordered id that partitions a table on PostgreSQL (migration 0014): compared byte
#: by byte there, whatever the database's collation, so a range of ids is a range of time
PARTITION_ID = sa.String(ID).with_variant(sa.String(ID, collation="C"), "postgresql")

models = sa.Table(
    "models",
    metadata,
    sa.Column("name", sa.String(NAME), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("config", sa.JSON, nullable=False),
    # The current deployment: every decision compares and sets it (see deployment_rows).
    sa.Column("deployment_id", sa.Integer, nullable=True),
)

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("model", sa.String(NAME), sa.ForeignKey("models.name"), primary_key=True),
    sa.Column("version", sa.String(NAME), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("flavor", sa.String(32), nullable=False),
    sa.Column("artifact_uri", sa.Text, nullable=False),
    sa.Column("artifact_hash", sa.String(ID + 7), nullable=False),
    sa.Column("input_schema", sa.JSON, nullable=False),
    sa.Column("output", sa.JSON, nullable=False),
    sa.Column("profile", sa.JSON, nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.UniqueConstraint("model", "seq", name="uq_versions_model_seq"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(NAME), sa.ForeignKey("models.name"), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("policy", sa.JSON, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("rollout_id", sa.Integer, nullable=True),  # the rollout that made it, if any
    sa.Index("ix_deployments_model_id", "model", "id"),
)

# On PostgreSQL ``predictions`` and ``feedback`` are partitioned by range of their time-ordered
# id (store/partitions.py); feedback's primary key there is (id, prediction_id).
predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", PARTITION_ID, primary_key=True),
    sa.Column("request_id", sa.String(ID), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("model", sa.String(NAME), nullable=False),
    sa.Column("version", sa.String(NAME), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("stage", sa.String(NAME), nullable=True),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("outputs", sa.Text, nullable=True),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("request_key", sa.String(255), nullable=True),
    sa.Index("ix_predictions_model_ts", "model", "ts"),
    sa.Index("ix_predictions_request_id", "request_id"),
    sa.Index("ix_predictions_request_key", "request_key"),
    sa.Index("ix_predictions_ts", "ts"),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prediction_id", PARTITION_ID, nullable=False),
    sa.Column("model", sa.String(NAME), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("value", sa.JSON, nullable=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("dedupe_key", sa.String(ID), nullable=False),
    # unique per prediction (a dedupe key hashes its prediction id): on PostgreSQL the
    # partition key must be part of every unique constraint (migration 0014)
    sa.UniqueConstraint("prediction_id", "dedupe_key", name="uq_feedback_prediction_dedupe"),
    sa.Index("ix_feedback_prediction_id", "prediction_id"),
    sa.Index("ix_feedback_model_ts", "model", "ts"),
    sa.Index("ix_feedback_ts", "ts"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("model", sa.String(NAME), nullable=True),
    sa.Column("version", sa.String(NAME), nullable=True),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index("ix_events_model_id", "model", "id"),
)

evaluations = sa.Table(
    "evaluations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(NAME), nullable=False),
    sa.Column("version", sa.String(NAME), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=True),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Index("ix_evaluations_model_version", "model", "version", "id"),
)

rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(NAME), sa.ForeignKey("models.name"), nullable=False),
    sa.Column("candidate", sa.String(NAME), nullable=False),
    sa.Column("baseline", sa.String(NAME), nullable=False),
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
    sa.Index("ix_rollouts_model_id", "model", "id"),
    sa.Index("ux_rollouts_one_active", "model", unique=True,
             sqlite_where=sa.text(ACTIVE_ROLLOUT), postgresql_where=sa.text(ACTIVE_ROLLOUT)),
)

rollout_checks = sa.Table(
    "rollout_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rollout_id", sa.Integer, sa.ForeignKey("rollouts.id"), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("decision", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("results", sa.JSON, nullable=False),
    sa.Index("ix_rollout_checks_rollout_id", "rollout_id", "id"),
)

metric_windows = sa.Table(
    "metric_windows",
    metadata,
    sa.Column("model", sa.String(NAME), primary_key=True),
    sa.Column("version", sa.String(NAME), primary_key=True),
    sa.Column("role", sa.String(16), primary_key=True),
    sa.Column("stage", sa.String(NAME), primary_key=True),
    sa.Column("window_start", sa.Float, primary_key=True),
    sa.Column("replica", sa.String(128), primary_key=True),
    sa.Column("window_s", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index("ix_metric_windows_model_start", "model", "window_start"),
    sa.Index("ix_metric_windows_start", "window_start"),
)

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(NAME), nullable=False),
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False, server_default=""),
    sa.Index("ux_alert_rules_model_name", "model", "name", unique=True),
)

alert_states = sa.Table(
    "alert_states",
    metadata,
    sa.Column("model", sa.String(NAME), primary_key=True),
    sa.Column("rule", sa.String(NAME), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("since", sa.Float, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
)

alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(NAME), nullable=False),
    sa.Column("rule", sa.String(NAME), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=True),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("threshold", sa.Float, nullable=True),
    sa.Column("severity", sa.String(16), nullable=True),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index("ix_alert_events_model_rule_id", "model", "rule", "id"),
    sa.Index("ix_alert_events_model_ts", "model", "ts"),
)

retrain_runs = sa.Table(
    "retrain_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(NAME), nullable=False),
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
    sa.Column("champion", sa.String(NAME), nullable=True),
    sa.Column("candidate", sa.String(NAME), nullable=True),
    sa.Column("dataset", sa.JSON, nullable=True),
    sa.Column("evaluation", sa.JSON, nullable=True),
    sa.Column("verdict", sa.String(16), nullable=True),
    sa.Column("reasons", sa.JSON, nullable=True),
    sa.Column("replay", sa.JSON, nullable=True),
    sa.Column("rollout_id", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("log_tail", sa.Text, nullable=True),
    sa.Column("run_dir", sa.Text, nullable=True),
    sa.Column("deployment_id", sa.Integer, nullable=True),  # the deployment it was decided on
    sa.Index("ix_retrain_runs_model_id", "model", "id"),
    sa.Index("ix_retrain_runs_state", "state"),
    sa.Index("ux_retrain_runs_one_active", "model", unique=True,
             sqlite_where=sa.text(ACTIVE_RUN), postgresql_where=sa.text(ACTIVE_RUN)),
)

review_items = sa.Table(
    "review_items",
    metadata,
    sa.Column("id", sa.String(ID), primary_key=True),  # the prediction id
    sa.Column("model", sa.String(NAME), nullable=False),
    sa.Column("version", sa.String(NAME), nullable=False),
    sa.Column("request_id", sa.String(ID), nullable=False),
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
    sa.Index("ix_review_items_queue", "model", "status", "priority", "created_at"),
    sa.Index("ix_review_items_model_created", "model", "created_at"),
)

review_labels = sa.Table(
    "review_labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.String(ID), nullable=False),
    sa.Column("model", sa.String(NAME), nullable=False),
    sa.Column("reviewer", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # label | skip | adjudicate
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("label", sa.JSON, nullable=True),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Index("ux_review_labels_item_reviewer_kind", "item_id", "reviewer", "kind", unique=True),
    sa.Index("ix_review_labels_model_ts", "model", "ts"),
)

automation_levels = sa.Table(
    "automation_levels",
    metadata,
    sa.Column("model", sa.String(NAME), primary_key=True),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("worker", sa.String(NAME), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("key", sa.String(255), nullable=True),  # the record's id, when it has one
    sa.Column("model", sa.String(NAME), nullable=True),
    sa.Column("payload", sa.Text, nullable=False),  # made safe: escaped, size-capped
    sa.Column("payload_chars", sa.Integer, nullable=False),  # before the cap
    sa.Column("replica", sa.String(128), nullable=False, server_default=""),
    sa.Index("ix_dead_letters_ts", "ts"),
    sa.Index("ix_dead_letters_worker_ts", "worker", "ts"),
)

# -- credentials and secrets (migration 0013) ---------------------------------------------

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # admin | reviewer
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("role", sa.String(16), nullable=True),  # reviewers: reviewer | lead
    sa.Column("token_hash", sa.String(ID), nullable=False, unique=True),  # SHA-256, hex
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False, server_default=""),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.Index("ix_tokens_kind_name", "kind", "name"),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("name", sa.String(NAME), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
