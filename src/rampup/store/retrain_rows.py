"""Store methods for retraining runs (mixed into :class:`Store`).

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
from rampup.store.deployment_rows import Fence, Refused, claim_model

ACTIVE_RUN_STATES = ("queued", "running")


class RetrainRows:
    engine: sa.Engine

    def insert_retrain_run(self, values: dict[str, Any], *,
                           seen: int | Literal["current"] | None = "current") -> int:
        """Create a run. The database refuses a second queued-or-running run of a model
        (``ux_retrain_runs_one_active``); with ``seen``, the run is created only while the
        model's deployment is still that one (else :class:`SupersededError`, recorded)."""
        r, model = t.retrain_runs, values["model"]
        try:
            with self.engine.begin() as conn:
                if seen != "current":
                    claim_model(conn, model, Fence(seen))
                new_id = conn.execute(r.insert().values(**values).returning(r.c.id)
                                      ).scalar_one()
        except Refused as refused:
            with self.engine.begin() as conn:
                conn.execute(t.events.insert().values(
                    ts=time.time(), actor=values.get("actor") or "retrain", action="superseded",
                    model=model, version=None, details={
                        "level": "info", "message": f"retraining not queued: {refused.why}",
                        "deployment_id": refused.current, "decided_on": seen,
                        "reason": values.get("reason", "")}))
            raise SupersededError(f"retraining {model} not queued: {refused.why}",
                                  fix="nothing to do: the model serves a newer deployment "
                                      "than the one this run was asked for",
                                  deployment_id=refused.current) from None
        except sa.exc.IntegrityError:
            with self.engine.connect() as conn:
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
        with self.engine.connect() as conn:
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
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(q)]

    def update_retrain_run(self, run_id: int, values: dict[str, Any], *,
                           expect_states: Sequence[str] | None = None) -> bool:
        """Apply ``values``; with ``expect_states`` only if the run is in one of them."""
        r = t.retrain_runs
        q = r.update().where(r.c.id == run_id)
        if expect_states:
            q = q.where(r.c.state.in_(list(expect_states)))
        with self.engine.begin() as conn:
            return conn.execute(q.values(**values).returning(r.c.id)).first() is not None

    def count_new_labels(self, model: str, since: float | None) -> int:
        """Answered predictions of ``model`` that received a label at or after ``since``."""
        f, p = t.feedback, t.predictions
        q = (sa.select(sa.func.count(sa.distinct(f.c.prediction_id)))
             .select_from(f.join(p, p.c.id == f.c.prediction_id))
             .where(f.c.model == model, f.c.kind == "label", p.c.role == "answer"))
        if since is not None:
            q = q.where(f.c.ts >= since)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def recent_predictions(self, model: str, limit: int, *,
                           roles: Sequence[str] = ("answer",),
                           version: str | None = None) -> list[dict[str, Any]]:
        """The last ``limit`` predictions (oldest first), each with its latest label
        (``label``/``labeled_at``, None when unlabelled)."""
        p, f = t.predictions, t.feedback
        q = (sa.select(p).where(p.c.model == model, p.c.role.in_(list(roles)))
             .order_by(p.c.ts.desc(), p.c.id.desc()).limit(limit))
        if version is not None:
            q = q.where(p.c.version == version)
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(q)]
            ids = [row["id"] for row in rows]
            labels: dict[str, tuple[Any, float]] = {}
            for i in range(0, len(ids), 500):
                latest = (sa.select(sa.func.max(f.c.id))
                          .where(f.c.kind == "label", f.c.prediction_id.in_(ids[i:i + 500]))
                          .group_by(f.c.prediction_id).scalar_subquery())
                for fb in conn.execute(sa.select(f.c.prediction_id, f.c.value, f.c.ts)
                                       .where(f.c.id.in_(latest))):
                    labels[fb.prediction_id] = (fb.value, fb.ts)
        rows.reverse()
        for row in rows:
            label = labels.get(row["id"])
            row["label"], row["labeled_at"] = label if label is not None else (None, None)
        return rows
