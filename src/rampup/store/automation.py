"""Run-time automation level overrides, one row per model (the project file holds the
configured level; an override wins until cleared)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from rampup.store import schema as t
from rampup.store.transactions import Repository


class SqlAutomationLevels(Repository):
    """Level overrides: model -> level, who set it and why."""

    def set_automation_level(self, model: str, level: str, *, actor: str, reason: str,
                             now: float) -> None:
        with self.db.begin() as conn:
            res = conn.execute(t.automation_levels.update().where(
                t.automation_levels.c.model == model
            ).values(level=level, updated_at=now, actor=actor, reason=reason)
             .returning(t.automation_levels.c.model))
            if res.first() is None:
                conn.execute(self.db.insert_ignore(t.automation_levels, ["model"]).values(
                    model=model, level=level, updated_at=now, actor=actor, reason=reason))

    def clear_automation_level(self, model: str) -> bool:
        with self.db.begin() as conn:
            res = conn.execute(t.automation_levels.delete().where(
                t.automation_levels.c.model == model).returning(t.automation_levels.c.model))
            return res.first() is not None

    def automation_levels(self) -> dict[str, dict[str, Any]]:
        """Run-time level overrides: model -> {level, updated_at, actor, reason}."""
        with self.db.reading() as conn:
            return {r.model: {"level": r.level, "updated_at": r.updated_at, "actor": r.actor,
                              "reason": r.reason}
                    for r in conn.execute(sa.select(t.automation_levels))}
