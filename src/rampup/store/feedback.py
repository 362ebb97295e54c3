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
        id, value)``, oldest first (a cursor for incremental windows), up to the highest
        id committed when asked, read ``limit`` ids at a time. Each read is a bounded
        range of the primary key, the model checked on the rows read: asking for the
        model makes SQLite walk the model's whole ``(model, ts)`` index, and an open range
        (``id > x ORDER BY id LIMIT n``) made PostgreSQL scan and sort the whole current
        partition (its estimate of the rows above the cursor was far too low)."""
        f = t.feedback
        out: list[tuple[int, str, Any]] = []
        with self.db.reading() as conn:
            top = int(conn.execute(sa.select(sa.func.max(f.c.id))).scalar() or 0)
            while after_id < top:
                upto = min(top, after_id + limit)
                rows = sorted(conn.execute(_LABELS.where(f.c.id > after_id, f.c.id <= upto))
                              .all(), key=lambda r: int(r[0]))
                out.extend((int(r[0]), str(r[1]), r[2]) for r in rows if r[3] == model)
                after_id = upto
        return out

    def latest_labels(self, model: str, ids: Iterable[str]) -> dict[str, tuple[int, Any]]:
        """Each prediction's latest label as ``(feedback id, value)``; unlabelled ones are
        left out. The model is checked on the rows read, not in the query: with it there,
        SQLite walks the model's whole ``(model, ts)`` index instead of probing
        ``prediction_id`` (30x slower at a thousand labels a second)."""
        f = t.feedback
        ids = list(dict.fromkeys(ids))
        out: dict[str, tuple[int, Any]] = {}
        with self.db.reading() as conn:
            for i in range(0, len(ids), 500):
                out.update(_latest(conn.execute(_LABELS.where(
                    f.c.prediction_id.in_(ids[i:i + 500]))).all(), model))
        return out

    def labels_in_range(self, model: str, low_id: str, high_id: str
                        ) -> dict[str, tuple[int, Any]]:
        """:meth:`latest_labels` of the model's predictions with an id in ``[low_id,
        high_id]``: one range of the ``prediction_id`` index (on PostgreSQL within the
        partitions of that id range). Rows just read hold ids in a narrow range (ids are
        time-ordered): their labels come in one query, without a list of ids."""
        f = t.feedback
        with self.db.reading() as conn:
            return _latest(conn.execute(_LABELS.where(
                f.c.prediction_id >= low_id, f.c.prediction_id <= high_id)).all(), model)

    def count_labels(self, model: str, after_id: int, upto_id: int) -> int:
        """How many of the model's labels have a feedback id in ``(after_id, upto_id]`` (a
        label cursor compares it with what it read before re-reading that range): a walk
        of that primary-key range, the model counted on the rows."""
        f = t.feedback
        q = (sa.select(sa.func.coalesce(sa.func.sum(
                 sa.case((f.c.model == model, 1), else_=0)), 0))
             .where(f.c.kind == "label", f.c.id > after_id, f.c.id <= upto_id))
        with self.db.reading() as conn:
            return int(conn.execute(q).scalar_one())

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


#: label rows as the latest-label reads take them: (feedback id, prediction id, value, model)
_LABELS = sa.select(t.feedback.c.id, t.feedback.c.prediction_id, t.feedback.c.value,
                    t.feedback.c.model).where(t.feedback.c.kind == "label")


def _latest(rows: Iterable[Any], model: str) -> dict[str, tuple[int, Any]]:
    """Each prediction's latest label among ``rows`` of :data:`_LABELS` (the highest
    feedback id wins), the model checked on the rows."""
    out: dict[str, tuple[int, Any]] = {}
    for fid, pid, value, m in sorted(rows, key=lambda r: int(r[0])):
        if m == model:
            out[pid] = (int(fid), value)
    return out
