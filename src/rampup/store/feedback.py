"""Feedback: labels and events per prediction id, idempotent by ``dedupe_key`` (unique per
prediction: a key is a hash of its prediction id and content, and on PostgreSQL the table
is partitioned by prediction id, which every unique constraint must contain)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from rampup.store import schema as t
from rampup.store.records import FeedbackRecord
from rampup.store.transactions import Repository

_DEDUPE = ["prediction_id", "dedupe_key"]


class SqlFeedback(Repository):
    """Feedback rows; the latest label of a prediction is its label."""

    def add_feedback(self, records: Sequence[FeedbackRecord]) -> list[bool]:
        """Insert feedback; returns, per record, whether it was new (False: a duplicate)."""
        out: list[bool] = []
        with self.db.begin() as conn:
            for r in records:
                stmt = self.db.insert_ignore(t.feedback, _DEDUPE).values(
                    prediction_id=r.prediction_id, model=r.model, ts=r.ts, kind=r.kind,
                    name=r.name, value=r.value, source=r.source, dedupe_key=r.dedupe_key
                ).returning(t.feedback.c.id)
                out.append(conn.execute(stmt).first() is not None)
        return out

    def list_feedback(self, prediction_id: str) -> list[FeedbackRecord]:
        q = (sa.select(t.feedback).where(t.feedback.c.prediction_id == prediction_id)
             .order_by(t.feedback.c.id))
        with self.db.reading() as conn:
            return [FeedbackRecord(r.prediction_id, r.model, r.ts, r.kind, r.name, r.value,
                                   r.source, r.dedupe_key) for r in conn.execute(q)]

    def label_history(self, ids: Iterable[str]) -> dict[str, list[tuple[int, str, Any]]]:
        """Every label of each prediction as ``(feedback id, dedupe_key, value)``, oldest
        first (to retract a label a newer one corrects)."""
        f = t.feedback
        ids = list(dict.fromkeys(ids))
        out: dict[str, list[tuple[int, str, Any]]] = {}
        with self.db.reading() as conn:
            for i in range(0, len(ids), 500):
                q = (sa.select(f.c.id, f.c.prediction_id, f.c.dedupe_key, f.c.value)
                     .where(f.c.prediction_id.in_(ids[i:i + 500]), f.c.kind == "label")
                     .order_by(f.c.id))
                for r in conn.execute(q):
                    out.setdefault(r.prediction_id, []).append((r.id, r.dedupe_key, r.value))
        return out

    def labels_after(self, model: str, after_id: int, limit: int = 50_000
                     ) -> list[tuple[int, str, Any]]:
        """The model's labels with a feedback id above ``after_id`` as ``(id, prediction
        id, value)``, oldest first, at most ``limit`` (a cursor for incremental windows)."""
        f = t.feedback
        q = (sa.select(f.c.id, f.c.prediction_id, f.c.value)
             .where(f.c.model == model, f.c.kind == "label", f.c.id > after_id)
             .order_by(f.c.id).limit(limit))
        with self.db.reading() as conn:
            return [(int(r.id), str(r.prediction_id), r.value) for r in conn.execute(q)]

    def latest_labels(self, model: str, ids: Iterable[str]) -> dict[str, tuple[int, Any]]:
        """Each prediction's latest label as ``(feedback id, value)``; unlabelled ones are
        left out."""
        f = t.feedback
        ids = list(dict.fromkeys(ids))
        out: dict[str, tuple[int, Any]] = {}
        with self.db.reading() as conn:
            for i in range(0, len(ids), 500):
                # "model = ?" filtered here, not in SQL: SQLite would pick the (model, ts)
                # index and read the model's whole feedback for each 500 ids
                q = (sa.select(f.c.id, f.c.prediction_id, f.c.value, f.c.model)
                     .where(f.c.prediction_id.in_(ids[i:i + 500]), f.c.kind == "label")
                     .order_by(f.c.id))
                for r in conn.execute(q):
                    if r.model == model:
                        out[r.prediction_id] = (int(r.id), r.value)
        return out

    def last_feedback_id(self) -> int:
        """The highest feedback id (0 without feedback): where a label cursor starts."""
        with self.db.reading() as conn:
            return int(conn.execute(sa.select(sa.func.max(t.feedback.c.id))).scalar() or 0)

    def count_new_labels(self, model: str, since: float | None) -> int:
        """Answered predictions of ``model`` that received a label at or after ``since``."""
        f, p = t.feedback, t.predictions
        q = (sa.select(sa.func.count(sa.distinct(f.c.prediction_id)))
             .select_from(f.join(p, p.c.id == f.c.prediction_id))
             .where(f.c.model == model, f.c.kind == "label", p.c.role == "answer"))
        if since is not None:
            q = q.where(f.c.ts >= since)
        with self.db.reading() as conn:
            return int(conn.execute(q).scalar_one())

    def delete_feedback_before(self, model: str, before: float, limit: int) -> int:
        f = t.feedback
        pick = (sa.select(f.c.id).where(f.c.model == model, f.c.ts < before)
                .limit(limit).scalar_subquery())
        with self.db.begin() as conn:
            return int(conn.execute(f.delete().where(f.c.id.in_(pick))).rowcount or 0)
