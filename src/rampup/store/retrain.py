"""Retraining runs.

Rows are plain dicts; :mod:`rampup.retrain.service` gives them meaning. Updates may be
conditional on the current state (compare-and-set), so the background loop and an
operator never both move the same run; the database keeps one queued-or-running run per
model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa

from rampup.errors import RetrainRefusedError, SupersededError
from rampup.store import schema as t
from rampup.store.deployments import Fence, Refused, claim_model
from rampup.store.events import record_event
from rampup.store.transactions import Repository

ACTIVE_RUN_STATES = ("queued", "running")


class SqlRetrainRuns(Repository):
    """Runs; one queued-or-running per model (a partial unique index)."""


    def insert_retrain_run(self, values: dict[str, Any], *,
                           seen: int | Literal["current"] | None = "current") -> int:
        """Create a run. The database refuses a second queued-or-running run of a model
        (``ux_retrain_runs_one_active``); with ``seen``, the run is created only while the
        model's deployment is still that one (else :class:`SupersededError`, recorded)."""
        r, model = t.retrain_runs, values["model"]
        try:
            with self.db.begin() as conn:
                if seen != "current":
                    claim_model(conn, model, Fence(seen))
                new_id = conn.execute(r.insert().values(**values).returning(r.c.id)
                                      ).scalar_one()
        except Refused as refused:
            with self.db.begin() as conn:
                record_event(conn, time.time(), values.get("actor") or "retrain", "superseded",
                             model, None, {
                                 "level": "info",
                                 "message": f"retraining not queued: {refused.why}",
                                 "deployment_id": refused.current, "decided_on": seen,
                                 "reason": values.get("reason", "")})
            raise SupersededError(f"retraining {model} not queued: {refused.why}",
                                  fix="nothing to do: the model serves a newer deployment "
                                      "than the one this run was asked for",
                                  deployment_id=refused.current) from None
        except sa.exc.IntegrityError:
            with self.db.reading() as conn:
                active = conn.execute(sa.select(r.c.id, r.c.state).where(
                    r.c.model == model, r.c.state.in_(ACTIVE_RUN_STATES))).first()
            which = "" if active is None else f" {active.state} (#{active.id})"
            raise RetrainRefusedError(
                f"model {model!r} already has a retraining run{which}; one run at a time",
                fix="wait for it to finish: rampup retrain show "
                    f"{active.id if active else 'RUN'}",
                guard="concurrent_run", run_id=None if active is None else active.id
            ) from None
        return int(new_id)

    def get_retrain_run(self, run_id: int) -> dict[str, Any] | None:
        r = t.retrain_runs
        with self.db.reading() as conn:
            row = conn.execute(sa.select(r).where(r.c.id == run_id)).first()
        return None if row is None else dict(row._mapping)

    def list_retrain_runs(self, model: str | None = None, *,
                          states: Sequence[str] | None = None,
                          since: float | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        r = t.retrain_runs
        q = sa.select(r).order_by(r.c.id.desc()).limit(limit)
        if model is not None:
            q = q.where(r.c.model == model)
        if states:
            q = q.where(r.c.state.in_(list(states)))
        if since is not None:
            q = q.where(r.c.created_at >= since)
        with self.db.reading() as conn:
            return [dict(row._mapping) for row in conn.execute(q)]

    def update_retrain_run(self, run_id: int, values: dict[str, Any], *,
                           expect_states: Sequence[str] | None = None) -> bool:
        """Apply ``values``; with ``expect_states`` only if the run is in one of them."""
        r = t.retrain_runs
        q = r.update().where(r.c.id == run_id)
        if expect_states:
            q = q.where(r.c.state.in_(list(expect_states)))
        with self.db.begin() as conn:
            return conn.execute(q.values(**values).returning(r.c.id)).first() is not None
