"""Store methods for monitoring snapshots (mixed into :class:`Store`).

Each replica upserts its own row per window key (model, version, role, stage,
window_start, replica), whole: the row always holds the replica's full aggregate of that
window, so a retried or repeated flush is harmless. Readers merge rows across replicas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from rampup.store import schema as t

_KEY = ("model", "version", "role", "stage", "window_start", "replica")


class MetricRows:
    engine: sa.Engine

    def upsert_metric_windows(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or replace window rows (keys: the table's columns)."""
        if not rows:
            return 0
        mw = t.metric_windows
        ins: Any = (postgresql.insert(mw) if self.engine.dialect.name == "postgresql"
                    else sqlite.insert(mw))
        stmt = ins.on_conflict_do_update(index_elements=list(_KEY), set_={
            "window_s": ins.excluded.window_s, "updated_at": ins.excluded.updated_at,
            "data": ins.excluded.data})
        with self.engine.begin() as conn:
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
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def metric_window(self, model: str, version: str, role: str, stage: str,
                      window_start: float, replica: str) -> dict[str, Any] | None:
        mw = t.metric_windows
        q = sa.select(mw).where(mw.c.model == model, mw.c.version == version,
                                mw.c.role == role, mw.c.stage == stage,
                                mw.c.window_start == window_start, mw.c.replica == replica)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else dict(row._mapping)

    def metric_window_keys(self, model: str, since: float) -> list[tuple[str, str, str]]:
        """Distinct (version, role, stage) with windows since ``since``."""
        mw = t.metric_windows
        q = (sa.select(mw.c.version, mw.c.role, mw.c.stage).distinct()
             .where(mw.c.model == model, mw.c.window_start >= since))
        with self.engine.connect() as conn:
            return sorted((r.version, r.role, r.stage) for r in conn.execute(q))

    def delete_metric_windows(self, before: float) -> int:
        """Drop windows that started before ``before`` (retention)."""
        mw = t.metric_windows
        with self.engine.begin() as conn:
            res = conn.execute(mw.delete().where(mw.c.window_start < before)
                               .returning(mw.c.model))
            return len(res.all())

    def feedback_targets(self, ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """For each prediction id: its row and its shadow rows (``<id>~<version>``).

        Only the columns monitoring needs: id, ts, model, version, role, stage, outputs.
        """
        p = t.predictions
        cols = [p.c.id, p.c.request_id, p.c.ts, p.c.model, p.c.version, p.c.role, p.c.stage,
                p.c.outputs]
        ids = list(dict.fromkeys(ids))
        out: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                rows = [dict(r._mapping) for r in conn.execute(
                    sa.select(*cols).where(p.c.id.in_(part)))]
                for r in rows:
                    out.setdefault(r["id"], []).append(r)
                request_ids = list({r["request_id"] for r in rows})
                if not request_ids:
                    continue
                shadows = conn.execute(sa.select(*cols).where(
                    p.c.request_id.in_(request_ids), p.c.role == "shadow"))
                for row in shadows:
                    base = row.id.split("~", 1)[0]
                    if base in out and base != row.id:
                        out[base].append(dict(row._mapping))
        return out

    def label_history(self, ids: Iterable[str]) -> dict[str, list[tuple[int, str, Any]]]:
        """Every label of each prediction as ``(feedback id, dedupe_key, value)``, oldest
        first (to retract a label a newer one corrects)."""
        f = t.feedback
        ids = list(dict.fromkeys(ids))
        out: dict[str, list[tuple[int, str, Any]]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = (sa.select(f.c.id, f.c.prediction_id, f.c.dedupe_key, f.c.value)
                     .where(f.c.prediction_id.in_(ids[i:i + 500]), f.c.kind == "label")
                     .order_by(f.c.id))
                for r in conn.execute(q):
                    out.setdefault(r.prediction_id, []).append((r.id, r.dedupe_key, r.value))
        return out
