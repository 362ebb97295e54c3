"""Store methods for retention and erasure (mixed into :class:`Store`).

Retention deletes by age in small batches (each a short transaction, so serving's
inserts never wait long behind it); erasure deletes one subject's rows, found by request
key, from every table that holds them. Aggregates (metric windows, evaluations) and the
audit trail (events, deployments, rollouts) are never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from rampup.store import schema as t

CHUNK = 500  # ids per IN (...) list


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i:i + CHUNK]) for i in range(0, len(ids), CHUNK)]


class EraseRows:
    engine: sa.Engine

    def delete_predictions_before(self, model: str, before: float, limit: int) -> int:
        """Delete up to ``limit`` of the model's oldest predictions older than ``before``."""
        p = t.predictions
        pick = (sa.select(p.c.id).where(p.c.model == model, p.c.ts < before)
                .limit(limit).scalar_subquery())
        with self.engine.begin() as conn:
            return int(conn.execute(p.delete().where(p.c.id.in_(pick))).rowcount or 0)

    def delete_feedback_before(self, model: str, before: float, limit: int) -> int:
        f = t.feedback
        pick = (sa.select(f.c.id).where(f.c.model == model, f.c.ts < before)
                .limit(limit).scalar_subquery())
        with self.engine.begin() as conn:
            return int(conn.execute(f.delete().where(f.c.id.in_(pick))).rowcount or 0)

    def delete_review_before(self, model: str, before: float, limit: int) -> int:
        """Review items created before ``before`` (open ones too: a stale queue is no
        reason to keep data) and their labels."""
        ri, rl = t.review_items, t.review_labels
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(
                sa.select(ri.c.id).where(ri.c.model == model, ri.c.created_at < before)
                .limit(limit))]
            if ids:
                conn.execute(rl.delete().where(rl.c.item_id.in_(ids)))
                conn.execute(ri.delete().where(ri.c.id.in_(ids)))
        return len(ids)

    def subject_predictions(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The predictions (id, request id, model, inputs) logged under these request keys."""
        p = t.predictions
        q = (sa.select(p.c.id, p.c.request_id, p.c.model, p.c.inputs)
             .where(p.c.request_key.in_(list(keys))))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def erase_predictions(self, ids: Sequence[str], request_ids: Sequence[str]) -> dict[str, int]:
        """Delete these predictions and everything that refers to them (feedback, review
        items and labels, dead letters) in one transaction; counts per table."""
        counts = {"predictions": 0, "feedback": 0, "review_items": 0, "review_labels": 0,
                  "dead_letters": 0}
        refs = sorted(set(ids) | set(request_ids))
        with self.engine.begin() as conn:
            for part in _chunks(refs):
                counts["feedback"] += conn.execute(
                    t.feedback.delete().where(t.feedback.c.prediction_id.in_(part))).rowcount or 0
                counts["review_labels"] += conn.execute(
                    t.review_labels.delete().where(t.review_labels.c.item_id.in_(part))
                ).rowcount or 0
                counts["review_items"] += conn.execute(
                    t.review_items.delete().where(sa.or_(
                        t.review_items.c.id.in_(part),
                        t.review_items.c.request_id.in_(part)))).rowcount or 0
                counts["dead_letters"] += conn.execute(
                    t.dead_letters.delete().where(t.dead_letters.c.key.in_(part))
                ).rowcount or 0
            for part in _chunks(sorted(set(ids))):
                counts["predictions"] += conn.execute(
                    t.predictions.delete().where(t.predictions.c.id.in_(part))).rowcount or 0
        return counts

    def inputs_mention(self, text: str) -> bool:
        """Whether any logged input still holds ``text`` (a content hash), a full scan:
        erasure is rare."""
        p = t.predictions
        q = sa.select(p.c.id).where(p.c.inputs.contains(text, autoescape=True)).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(q).first() is not None
