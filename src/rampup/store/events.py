"""The audit trail: who did what to which model, newest first."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from rampup.store import schema as t
from rampup.store.records import EventRecord
from rampup.store.transactions import Repository


def record_event(conn: sa.Connection, now: float, actor: str, action: str, model: str | None,
                 version: str | None, details: Mapping[str, Any]) -> None:
    """Append one event on ``conn`` (inside a caller's transaction)."""
    conn.execute(t.events.insert().values(ts=now, actor=actor, action=action, model=model,
                                          version=version, details=dict(details)))


class SqlEvents(Repository):
    """Audit events (append-only)."""

    def add_event(self, actor: str, action: str, *, model: str | None = None,
                  version: str | None = None, details: dict[str, Any] | None = None) -> None:
        with self.db.begin() as conn:
            conn.execute(t.events.insert().values(ts=time.time(), actor=actor, action=action,
                                                  model=model, version=version,
                                                  details=details or {}))

    def list_events(self, model: str | None = None, limit: int = 100, *,
                    actor: str | None = None, action: str | None = None,
                    since: float | None = None) -> list[EventRecord]:
        """Newest first; ``action`` may end in ``*`` (a prefix: ``admin.*``)."""
        e = t.events
        q = sa.select(e).order_by(e.c.id.desc()).limit(limit)
        if model is not None:
            q = q.where(e.c.model == model)
        if actor is not None:
            q = q.where(e.c.actor == actor)
        if action is not None:
            q = q.where(e.c.action.startswith(action[:-1], autoescape=True)
                        if action.endswith("*") else e.c.action == action)
        if since is not None:
            q = q.where(e.c.ts >= since)
        with self.db.reading() as conn:
            return [EventRecord(r.id, r.ts, r.actor, r.action, r.model, r.version, r.details)
                    for r in conn.execute(q)]
