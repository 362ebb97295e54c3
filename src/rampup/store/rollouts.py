"""Rollouts and their check results.

Rows are plain dicts; :mod:`rampup.rollout.store` turns them into state-machine objects.
Changes go through :meth:`rampup.store.deployments.SqlDeployments.decide`, a
compare-and-set on the model's deployment and the rollout's ``revision``, so an
operator's action and the controller never overwrite each other silently.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from rampup.errors import ConflictError
from rampup.store import schema as t
from rampup.store.deployments import ACTIVE_STATES
from rampup.store.transactions import Repository


class SqlRollouts(Repository):
    """Rollout rows (revisioned) and the checks recorded at each step."""


    def insert_rollout(self, values: dict[str, Any]) -> int:
        """Create a rollout row; the database refuses a second active one for a model
        (``ux_rollouts_one_active``). Rollouts start through :meth:`decide`, which also
        applies their first step; this is the bare insert."""
        try:
            with self.db.begin() as conn:
                new_id = conn.execute(t.rollouts.insert().values(**values)
                                      .returning(t.rollouts.c.id)).scalar_one()
        except sa.exc.IntegrityError:
            raise ConflictError(f"model {values['model']!r} already has an active rollout",
                                fix=f"finish it first: rampup rollout abort {values['model']}"
                                ) from None
        return int(new_id)

    def get_rollout(self, rollout_id: int) -> dict[str, Any] | None:
        with self.db.reading() as conn:
            row = conn.execute(sa.select(t.rollouts).where(t.rollouts.c.id == rollout_id)).first()
        return None if row is None else dict(row._mapping)

    def list_rollouts(self, model: str | None = None, *, active_only: bool = False,
                      limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        q = sa.select(t.rollouts).order_by(t.rollouts.c.id.desc()).limit(limit)
        if model is not None:
            q = q.where(t.rollouts.c.model == model)
        if active_only:
            q = q.where(t.rollouts.c.state.in_(ACTIVE_STATES))
        with self.db.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def update_rollout(self, rollout_id: int, revision: int, values: dict[str, Any]) -> bool:
        """Apply ``values`` if the row is still at ``revision``; returns False otherwise."""
        with self.db.begin() as conn:
            res = conn.execute(t.rollouts.update().where(
                t.rollouts.c.id == rollout_id, t.rollouts.c.revision == revision
            ).values(**values, revision=revision + 1).returning(t.rollouts.c.id))
            return res.first() is not None

    def add_rollout_check(self, rollout_id: int, step: int, ts: float, verdict: str,
                          decision: str, reason: str, results: list[dict[str, Any]]) -> None:
        with self.db.begin() as conn:
            conn.execute(t.rollout_checks.insert().values(
                rollout_id=rollout_id, step=step, ts=ts, verdict=verdict, decision=decision,
                reason=reason, results=results))

    def list_rollout_checks(self, rollout_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """Newest first."""
        q = (sa.select(t.rollout_checks).where(t.rollout_checks.c.rollout_id == rollout_id)
             .order_by(t.rollout_checks.c.id.desc()).limit(limit))
        with self.db.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]
