"""Dead letters: what a background worker
could not write, with the reason and the payload made safe (see
:mod:`rampup.runtime.deadletters`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from rampup.store import schema as t
from rampup.store.transactions import Repository


class SqlDeadLetters(Repository):
    """What background workers could not write."""


    def add_dead_letters(self, rows: Sequence[dict[str, Any]]) -> int:
        if not rows:
            return 0
        with self.db.begin() as conn:
            conn.execute(t.dead_letters.insert(), list(rows))
        return len(rows)

    def list_dead_letters(self, *, worker: str | None = None, model: str | None = None,
                          since: float | None = None, until: float | None = None,
                          limit: int = 100) -> list[dict[str, Any]]:
        """Newest first."""
        d = t.dead_letters
        q = sa.select(d).order_by(d.c.id.desc()).limit(limit)
        if worker is not None:
            q = q.where(d.c.worker == worker)
        if model is not None:
            q = q.where(d.c.model == model)
        if since is not None:
            q = q.where(d.c.ts >= since)
        if until is not None:
            q = q.where(d.c.ts < until)
        with self.db.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def count_dead_letters(self, *, since: float | None = None) -> dict[str, int]:
        """Dead letters per worker (since a time, when given)."""
        d = t.dead_letters
        q = sa.select(d.c.worker, sa.func.count()).group_by(d.c.worker)
        if since is not None:
            q = q.where(d.c.ts >= since)
        with self.db.reading() as conn:
            return {str(w): int(n) for w, n in conn.execute(q)}

    def delete_dead_letters(self, *, before: float) -> int:
        """Remove dead letters older than ``before``; returns how many."""
        d = t.dead_letters
        with self.db.begin() as conn:
            return int(conn.execute(d.delete().where(d.c.ts < before)).rowcount or 0)
