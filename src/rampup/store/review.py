"""The human review queue: items and reviewers' labels.

Items are plain dicts. Claims and decisions are compare-and-set ``UPDATE``s, so several
reviewers and several replicas can work on one queue: a claim only succeeds on an item
nobody holds (or whose claim has expired), a decision only on the revision it read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from rampup.store import schema as t
from rampup.store.feedback import SqlFeedback
from rampup.store.records import FeedbackRecord
from rampup.store.transactions import Repository

OPEN_STATUSES = ("open", "disputed")
_CANDIDATES = 25  # items tried per claim_next round


class SqlReview(Repository):
    """Review items (id = prediction id) and labels."""


    def insert_review_items(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert review items; ids already queued are skipped. Returns how many are new."""
        if not rows:
            return 0
        stmt = self.db.insert_ignore(t.review_items, ["id"]).returning(t.review_items.c.id)
        with self.db.begin() as conn:
            return len(conn.execute(stmt, list(rows)).all())

    def get_review_item(self, item_id: str) -> dict[str, Any] | None:
        with self.db.reading() as conn:
            row = conn.execute(sa.select(t.review_items)
                               .where(t.review_items.c.id == item_id)).first()
        return None if row is None else dict(row._mapping)

    def list_review_items(self, model: str, *, statuses: Sequence[str] | None = None,
                          reasons: Sequence[str] | None = None, since: float | None = None,
                          limit: int = 100, newest_first: bool = False) -> list[dict[str, Any]]:
        """Queue order (priority, then oldest first) unless ``newest_first``."""
        c = t.review_items.c
        q = sa.select(t.review_items).where(c.model == model)
        if statuses:
            q = q.where(c.status.in_(list(statuses)))
        if reasons:
            q = q.where(c.reason.in_(list(reasons)))
        if since is not None:
            q = q.where(c.created_at >= since)
        order = [c.created_at.desc()] if newest_first else [c.priority.desc(), c.created_at]
        q = q.order_by(*order, c.id).limit(limit)
        with self.db.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def claim_review_item(self, item_id: str, reviewer: str, now: float, ttl: float) -> bool:
        """Claim one item for ``reviewer`` until ``now + ttl`` if it is open and nobody else
        holds a live claim (the reviewer's own claim is renewed)."""
        c = t.review_items.c
        with self.db.begin() as conn:
            res = conn.execute(t.review_items.update().where(
                c.id == item_id, c.status.in_(OPEN_STATUSES),
                sa.or_(c.claimed_until.is_(None), c.claimed_until < now,
                       c.claimed_by == reviewer),
            ).values(claimed_by=reviewer, claimed_until=now + ttl, revision=c.revision + 1)
             .returning(c.id))
            return res.first() is not None

    def claim_next_review_item(self, model: str, reviewer: str, now: float,
                               ttl: float) -> dict[str, Any] | None:
        """The reviewer's live claim if any, else the first open item (queue order) the
        reviewer has not labelled or skipped, claimed. None when nothing is left."""
        c = t.review_items.c
        with self.db.reading() as conn:
            held = conn.execute(sa.select(c.id).where(
                c.model == model, c.status.in_(OPEN_STATUSES), c.claimed_by == reviewer,
                c.claimed_until >= now).order_by(c.created_at).limit(1)).first()
        if held is not None:
            return self.get_review_item(held.id)
        done = sa.select(t.review_labels.c.item_id).where(
            t.review_labels.c.model == model, t.review_labels.c.reviewer == reviewer)
        q = (sa.select(c.id).where(
            c.model == model, c.status.in_(OPEN_STATUSES),
            sa.or_(c.claimed_until.is_(None), c.claimed_until < now), c.id.not_in(done))
            .order_by(c.priority.desc(), c.created_at, c.id).limit(_CANDIDATES))
        for _ in range(4):  # other reviewers may win some candidates; look again
            with self.db.reading() as conn:
                ids = [r.id for r in conn.execute(q)]
            if not ids:
                return None
            for item_id in ids:
                if self.claim_review_item(item_id, reviewer, now, ttl):
                    return self.get_review_item(item_id)
        return None  # pragma: no cover - only under heavy contention

    def release_review_claim(self, item_id: str, reviewer: str) -> bool:
        c = t.review_items.c
        with self.db.begin() as conn:
            res = conn.execute(t.review_items.update().where(
                c.id == item_id, c.claimed_by == reviewer
            ).values(claimed_by=None, claimed_until=None, revision=c.revision + 1)
             .returning(c.id))
            return res.first() is not None

    def add_review_label(self, item_id: str, revision: int, update: dict[str, Any], *,
                         model: str, reviewer: str, kind: str, label: Any, now: float,
                         note: str = "", feedback: FeedbackRecord | None = None) -> bool:
        """Record one reviewer's label (``kind``: label/skip/adjudicate) and apply ``update``
        to the item, if it is still at ``revision``; with ``feedback``, the final label is
        written as the prediction's label in the same transaction. False: the item changed."""
        c = t.review_items.c
        with self.db.begin() as conn:
            res = conn.execute(t.review_items.update().where(
                c.id == item_id, c.revision == revision
            ).values(**update, revision=revision + 1).returning(c.id))
            if res.first() is None:
                return False
            conn.execute(self.db.insert_ignore(t.review_labels,
                                               ["item_id", "reviewer", "kind"]).values(
                item_id=item_id, model=model, reviewer=reviewer, kind=kind, ts=now,
                label=label, note=note))
            if feedback is not None:  # joins this transaction
                SqlFeedback(self.db).add_feedback([feedback])
        return True

    def list_review_labels(self, model: str, *, item_ids: Sequence[str] | None = None,
                           kinds: Sequence[str] = ("label",),
                           since: float | None = None) -> list[dict[str, Any]]:
        """Reviewers' individual labels, oldest first."""
        c = t.review_labels.c
        q = sa.select(t.review_labels).where(c.model == model, c.kind.in_(list(kinds)))
        if item_ids is not None:
            q = q.where(c.item_id.in_(list(item_ids)))
        if since is not None:
            q = q.where(c.ts >= since)
        with self.db.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q.order_by(c.id))]

    def review_status_counts(self, model: str) -> dict[str, int]:
        c = t.review_items.c
        q = sa.select(c.status, sa.func.count()).where(c.model == model).group_by(c.status)
        with self.db.reading() as conn:
            return {s: int(n) for s, n in conn.execute(q)}

    def review_queue_lengths(self) -> dict[str, int]:
        """Open + disputed items per model (for the queue-length gauge)."""
        c = t.review_items.c
        q = (sa.select(c.model, sa.func.count()).where(c.status.in_(OPEN_STATUSES))
             .group_by(c.model))
        with self.db.reading() as conn:
            return {m: int(n) for m, n in conn.execute(q)}

    def delete_review_before(self, model: str, before: float, limit: int) -> int:
        """Review items created before ``before`` (open ones too: a stale queue is no
        reason to keep data) and their labels."""
        ri, rl = t.review_items, t.review_labels
        with self.db.begin() as conn:
            ids = [r[0] for r in conn.execute(
                sa.select(ri.c.id).where(ri.c.model == model, ri.c.created_at < before)
                .limit(limit))]
            if ids:
                conn.execute(rl.delete().where(rl.c.item_id.in_(ids)))
                conn.execute(ri.delete().where(ri.c.id.in_(ids)))
        return len(ids)
