"""Fencing: the model's current deployment as a pointer every decision compares and sets;
which rollout made each deployment; the deployment a retraining run was decided on; the
database (not the caller) allows one active rollout and one queued-or-running retraining
run per model.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ACTIVE_ROLLOUT = "state IN ('pending', 'shadow', 'canary', 'bluegreen', " \
                 "'awaiting_approval', 'paused')"
ACTIVE_RUN = "state IN ('queued', 'running')"


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("deployment_id", sa.Integer, nullable=True))
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("rollout_id", sa.Integer, nullable=True))
    with op.batch_alter_table("retrain_runs") as batch:
        batch.add_column(sa.Column("deployment_id", sa.Integer, nullable=True))
    now = time.time()
    # The pointer: each model's newest deployment.
    op.execute("UPDATE models SET deployment_id = (SELECT max(d.id) FROM deployments d "
               "WHERE d.model = models.name)")
    # The current deployment belongs to the model's latest rollout when that rollout began
    # before it (so an active rollout, or a promotion's standby timer, carries on after the
    # upgrade); older rows keep no owner.
    op.execute("UPDATE deployments SET rollout_id = (SELECT max(r.id) FROM rollouts r "
               "WHERE r.model = deployments.model AND r.created_at <= deployments.created_at) "
               "WHERE id IN (SELECT deployment_id FROM models)")
    # Older versions checked before inserting, which a race could pass: keep the newest
    # active rollout / run of a model, end the others with a reason, then let the
    # database refuse a second one from now on.
    op.execute(
        "UPDATE rollouts SET state = 'superseded', revision = revision + 1, "
        f"updated_at = {now!r}, reason = 'superseded by a newer active rollout of the model "
        f"(migration 0008: one active rollout per model)' WHERE {ACTIVE_ROLLOUT} AND id < "
        f"(SELECT max(o.id) FROM rollouts o WHERE o.model = rollouts.model AND o.{ACTIVE_ROLLOUT})")
    op.execute(
        "UPDATE retrain_runs SET state = 'expired', "
        f"updated_at = {now!r}, finished_at = {now!r}, error = 'expired: a newer run of the "
        f"model was queued (migration 0008: one queued-or-running run per model)' WHERE "
        f"{ACTIVE_RUN} AND id < (SELECT max(o.id) FROM retrain_runs o WHERE "
        f"o.model = retrain_runs.model AND o.{ACTIVE_RUN})")
    op.create_index("ux_rollouts_one_active", "rollouts", ["model"], unique=True,
                    sqlite_where=sa.text(ACTIVE_ROLLOUT),
                    postgresql_where=sa.text(ACTIVE_ROLLOUT))
    op.create_index("ux_retrain_runs_one_active", "retrain_runs", ["model"], unique=True,
                    sqlite_where=sa.text(ACTIVE_RUN), postgresql_where=sa.text(ACTIVE_RUN))


def downgrade() -> None:
    op.drop_index("ux_retrain_runs_one_active", "retrain_runs")
    op.drop_index("ux_rollouts_one_active", "rollouts")
    with op.batch_alter_table("retrain_runs") as batch:
        batch.drop_column("deployment_id")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("rollout_id")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("deployment_id")
