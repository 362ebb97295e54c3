"""Monitoring snapshots: the ``metric_windows`` rows.

Each replica upserts its own row per window key (model, version, role, stage,
window_start, replica), whole: the row always holds the replica's full aggregate of that
window, so a retried or repeated flush is harmless. Readers merge rows across replicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from rampup.store import schema as t
from rampup.store.transactions import Repository

_KEY = ("model", "version", "role", "stage", "window_start", "replica")


class WindowStamp(NamedTuple):
    version: str
    role: str
    window_start: float
    replica: str
    updated_at: float


class SqlWindows(Repository):
    """Window rows, upserted whole per replica, merged by readers."""


    def upsert_metric_windows(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or replace window rows (keys: the table's columns)."""
        if not rows:
            return 0
        mw = t.metric_windows
        ins: Any = (postgresql.insert(mw) if self.db.dialect == "postgresql"
                    else sqlite.insert(mw))
        stmt = ins.on_conflict_do_update(index_elements=list(_KEY), set_={
            "window_s": ins.excluded.window_s, "updated_at": ins.excluded.updated_at,
            "data": ins.excluded.data})
        with self.db.begin() as conn:
            conn.execute(stmt, list(rows))
        return len(rows)

    def metric_windows(self, model: str, *, since: float, until: float,
                       version: str | None = None, role: str | None = None,
                       stage: str | None = None, replica: str | None = None,
                       ) -> list[dict[str, Any]]:
        """Rows with ``since <= window_start < until``, oldest first."""
        mw = t.metric_windows
        q = sa.select(mw).where(mw.c.model == model, mw.c.window_start >= since,
                                mw.c.window_start < until)
        for col, value in (("version", version), ("role", role), ("stage", stage),
                           ("replica", replica)):
            if value is not None:
                q = q.where(mw.c[col] == value)
        q = q.order_by(mw.c.window_start)
        with self.db.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def metric_window(self, model: str, version: str, role: str, stage: str,
                      window_start: float, replica: str) -> dict[str, Any] | None:
        mw = t.metric_windows
        q = sa.select(mw).where(mw.c.model == model, mw.c.version == version,
                                mw.c.role == role, mw.c.stage == stage,
                                mw.c.window_start == window_start, mw.c.replica == replica)
        with self.db.reading() as conn:
            row = conn.execute(q).first()
        return None if row is None else dict(row._mapping)

    def metric_window_keys(self, model: str, since: float) -> list[tuple[str, str, str]]:
        """Distinct (version, role, stage) with windows since ``since``."""
        mw = t.metric_windows
        q = (sa.select(mw.c.version, mw.c.role, mw.c.stage).distinct()
             .where(mw.c.model == model, mw.c.window_start >= since))
        with self.db.reading() as conn:
            return sorted((r.version, r.role, r.stage) for r in conn.execute(q))

    def delete_metric_windows(self, before: float) -> int:
        """Drop windows that started before ``before`` (retention)."""
        mw = t.metric_windows
        with self.db.begin() as conn:
            res = conn.execute(mw.delete().where(mw.c.window_start < before)
                               .returning(mw.c.model))
            return len(res.all())

    def metric_window_stamps(self, model: str, *, since: float, until: float,
                             stage: str | None = None) -> list[WindowStamp]:
        """(version, role, window_start, replica, updated_at) of the rows with
        ``since <= window_start < until``, oldest first: which windows exist and when each
        last changed, without their (large) data, so the dashboard can serve unchanged
        windows from its cache of decoded buckets."""
        mw = t.metric_windows
        q = (sa.select(mw.c.version, mw.c.role, mw.c.window_start, mw.c.replica,
                       mw.c.updated_at)
             .where(mw.c.model == model, mw.c.window_start >= since,
                    mw.c.window_start < until)
             .order_by(mw.c.window_start))
        if stage is not None:
            q = q.where(mw.c.stage == stage)
        with self.db.reading() as conn:
            return [WindowStamp(r.version, r.role, float(r.window_start), r.replica,
                                float(r.updated_at)) for r in conn.execute(q)]
