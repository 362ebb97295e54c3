"""The prediction log: one row per record served (answer, shadow, batch, stage), bulk
inserted by the log writer, streamed back with each row's latest label, aged out by
retention and erased by request key.

Erasure (:meth:`SqlPredictions.erase_predictions`) deletes a subject's predictions and
every row that refers to them (feedback, review items and labels, dead letters) in one
transaction. Aggregates (metric windows, evaluations) and the audit trail (events,
deployments, rollouts) are never touched.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from rampup.store import schema as t
from rampup.store.partitions import bound, is_partitioned
from rampup.store.transactions import Repository

CHUNK = 500  # ids per IN (...) list
#: how much earlier than its ``ts`` a prediction's id may have been made (see ``id_floor``)
ID_MARGIN_S = 3600.0


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i:i + CHUNK]) for i in range(0, len(ids), CHUNK)]


def _latest_labels(conn: sa.Connection, model: str,
                   ids: Sequence[str]) -> dict[str, tuple[Any, float]]:
    """Each of ``ids``' latest label as ``(value, ts)`` (the highest feedback id wins)."""
    f = t.feedback
    out: dict[str, tuple[Any, float]] = {}
    for some in _chunks(ids):
        # no "model = ?" in SQL: SQLite would then pick the (model, ts) index and read
        # the model's whole feedback for every chunk instead of the prediction_id index
        q = (sa.select(f.c.prediction_id, f.c.value, f.c.ts, f.c.model)
             .where(f.c.prediction_id.in_(some), f.c.kind == "label")
             .order_by(f.c.id))
        for pid, value, ts, of in conn.execute(q):
            if of == model:
                out[pid] = (value, ts)
    return out


class SqlPredictions(Repository):
    """The prediction log on SQLite (prepared ``executemany``) or PostgreSQL (COPY)."""

    _partitioned: bool | None = None  # whether ``predictions`` is partitioned (cached)

    def insert_predictions(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert pre-serialised prediction rows; ids already present are skipped."""
        if not rows:
            return 0
        if self.db.dialect == "postgresql":
            return self._copy_predictions(rows)
        if self.db.dialect == "sqlite":
            return self._sqlite_predictions(rows)
        # RETURNING, not rowcount: SQLAlchemy only guarantees rowcount for UPDATE/DELETE.
        stmt = self.db.insert_ignore(t.predictions, ["id"]).returning(t.predictions.c.id)
        with self.db.begin() as conn:
            return len(conn.execute(stmt, list(rows)).all())

    def _sqlite_predictions(self, rows: Sequence[dict[str, Any]]) -> int:
        """SQLite: one prepared ``INSERT ... ON CONFLICT DO NOTHING`` run by the driver's
        ``executemany`` over plain tuples (the rows are already serialised, so none of
        SQLAlchemy's per-row parameter processing is needed). The log writer shares the
        server's core: its time under the GIL is time the event loop waits."""
        cols = _PREDICTION_COLUMNS
        get = _prediction_values
        try:
            params = [get(r) for r in rows]
        except KeyError:  # a row without the optional columns
            params = [tuple(r.get(c) for c in cols) for r in rows]
        with self.db.begin() as conn:
            raw: Any = conn.connection.driver_connection
            before = raw.total_changes
            raw.executemany(_SQLITE_INSERT_PREDICTIONS, params)
            return int(raw.total_changes - before)

    def _copy_predictions(self, rows: Sequence[dict[str, Any]]) -> int:
        """PostgreSQL: COPY into a session-local staging table, then one INSERT ... SELECT
        that skips ids already stored (several times faster than batched INSERTs)."""
        cols = [c.name for c in t.predictions.columns]
        col_list = ", ".join(cols)
        with self.db.begin() as conn:
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cur:
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS rampup_predictions_stage "
                            "(LIKE predictions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
                with cur.copy(f"COPY rampup_predictions_stage ({col_list}) FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row([row.get(c) for c in cols])
                cur.execute(f"INSERT INTO predictions ({col_list}) SELECT {col_list} "
                            "FROM rampup_predictions_stage ON CONFLICT (id) DO NOTHING")
                return int(cur.rowcount)

    def get_predictions(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = list(ids)
        out: list[dict[str, Any]] = []
        with self.db.reading() as conn:
            for i in range(0, len(ids), 500):
                q = sa.select(t.predictions).where(t.predictions.c.id.in_(ids[i:i + 500]))
                out.extend(dict(r._mapping) for r in conn.execute(q))
        return out

    def existing_prediction_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        found: set[str] = set()
        with self.db.reading() as conn:
            for i in range(0, len(ids), 500):
                q = sa.select(t.predictions.c.id, t.predictions.c.model).where(
                    t.predictions.c.id.in_(ids[i:i + 500]))
                found.update(r.id for r in conn.execute(q))
        return found

    def prediction_models(self, ids: Iterable[str]) -> dict[str, str]:
        """Map prediction id -> model for the ids that exist."""
        ids = list(ids)
        out: dict[str, str] = {}
        with self.db.reading() as conn:
            for i in range(0, len(ids), 500):
                q = sa.select(t.predictions.c.id, t.predictions.c.model).where(
                    t.predictions.c.id.in_(ids[i:i + 500]))
                out.update({r.id: r.model for r in conn.execute(q)})
        return out

    def count_predictions(self, model: str | None = None, role: str | None = None) -> int:
        q = sa.select(sa.func.count()).select_from(t.predictions)
        if model is not None:
            q = q.where(t.predictions.c.model == model)
        if role is not None:
            q = q.where(t.predictions.c.role == role)
        with self.db.reading() as conn:
            return int(conn.execute(q).scalar_one())

    def count_answered(self, model: str, since: float | None = None) -> int:
        """Answered predictions of a model (role ``answer``) since a time."""
        p = t.predictions.c
        q = sa.select(sa.func.count()).select_from(t.predictions).where(
            p.model == model, p.role == "answer", p.error.is_(None))
        if since is not None:
            q = q.where(p.ts >= since)
        with self.db.reading() as conn:
            return int(conn.execute(q).scalar_one())

    def iter_predictions(
        self, model: str, *, since: float | None = None, until: float | None = None,
        version: str | None = None, roles: Sequence[str] | None = None,
        with_labels: bool = True, chunk_size: int = 10_000,
    ) -> Iterator[list[dict[str, Any]]]:
        """Stream predictions (oldest first) in chunks, each row with its latest label
        (``label``, ``labeled_at``; None when unlabelled) when ``with_labels``.

        Labels are looked up by id for each chunk (the feedback index on prediction_id),
        as the incremental windows do: an outer join on a "latest label per prediction"
        subquery made SQLite group the model's whole feedback table and scan it per row,
        minutes on a log with many labels (``benchmarks/labelled_log.py``)."""
        p = t.predictions
        q = sa.select(*p.c).where(p.c.model == model)
        if since is not None:
            q = q.where(p.c.ts >= since)
            floor = self.id_floor(since)
            if floor is not None:
                q = q.where(p.c.id >= floor)
        if until is not None:
            q = q.where(p.c.ts < until)
        if version is not None:
            q = q.where(p.c.version == version)
        if roles:
            q = q.where(p.c.role.in_(list(roles)))
        q = q.order_by(p.c.ts, p.c.id)
        with self.db.reading(stream=True) as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(q)
            keys = list(result.keys())
            for part in result.partitions(chunk_size):
                rows = [dict(zip(keys, r, strict=True)) for r in part]
                if with_labels:
                    labels = _latest_labels(conn, model, [r["id"] for r in rows])
                    for r in rows:
                        r["label"], r["labeled_at"] = labels.get(r["id"], (None, None))
                yield rows

    def id_floor(self, since: float) -> str | None:
        """A lower bound for the ids of rows with ``ts >= since`` on a partitioned log (the
        millisecond prefix of ``since - ID_MARGIN_S``), so PostgreSQL prunes the partitions
        of older days; None where the log is not partitioned (SQLite). A prediction id is
        made when its request arrives and its ``ts`` when it is logged, on the same clock:
        the margin covers the request's duration and a shadow call finishing late."""
        if self._partitioned is None:
            if self.db.dialect != "postgresql":
                self._partitioned = False
            else:
                with self.db.reading() as conn:
                    self._partitioned = is_partitioned(conn, "predictions")
        return bound(max(0.0, since - ID_MARGIN_S)) if self._partitioned else None

    def _window(self, model: str, since: float, until: float,
                roles: Sequence[str] | None) -> list[Any]:
        p = t.predictions.c
        where = [p.model == model, p.ts >= since, p.ts < until]
        if roles is not None:
            where.append(p.role.in_(list(roles)))
        floor = self.id_floor(since)
        if floor is not None:
            where.append(p.id >= floor)
        return where

    def tail_rows(self, model: str, *, since: float, until: float,
                  roles: Sequence[str] | None, chunk_size: int = 10_000,
                  ids: Sequence[str] | None = None, stream: bool = True
                  ) -> Iterator[list[Sequence[Any]]]:
        """The narrow columns incremental windows read (no inputs, no labels: see
        ``Feedback.latest_labels``) as tuples in ``TAIL_COLUMNS`` order (id, request_id,
        ts, version, role, outputs, confidence, latency_ms, error), oldest first; with
        ``ids``, only those rows (in no order); ``roles=None``: every role.
        ``stream=False`` for a short range (a tick's new rows): fetched at once, without
        a server-side cursor's extra round trips on PostgreSQL."""
        p = t.predictions
        cols = [p.c.id, p.c.request_id, p.c.ts, p.c.version, p.c.role, p.c.outputs,
                p.c.confidence, p.c.latency_ms, p.c.error]
        where = self._window(model, since, until, roles)
        with self.db.reading(stream=stream and ids is None) as conn:
            if ids is not None:
                for some in _chunks(ids):
                    yield list(conn.execute(
                        sa.select(*cols).where(*where, p.c.id.in_(some))).all())
                return
            q = sa.select(*cols).where(*where).order_by(p.c.ts, p.c.id)
            if not stream:
                yield list(conn.execute(q).all())
                return
            result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(q)
            for part in result.partitions(chunk_size):
                yield list(part)

    def tail_ids(self, model: str, *, since: float, until: float,
                 roles: Sequence[str] | None) -> list[str]:
        """The ids of the model's rows in ``[since, until)`` (what a tail already holds is
        skipped without fetching the rows); ``roles=None``: every role."""
        q = sa.select(t.predictions.c.id).where(*self._window(model, since, until, roles))
        with self.db.reading() as conn:
            return list(conn.execute(q).scalars())

    def count_window(self, model: str, *, since: float, until: float,
                     roles: Sequence[str] | None) -> int:
        """How many of the model's rows with these roles have ``ts`` in ``[since, until)``
        (a tail compares it with what it holds before asking for ids); ``roles=None``:
        every role, counted from the ``(model, ts)`` index without reading rows."""
        q = (sa.select(sa.func.count()).select_from(t.predictions)
             .where(*self._window(model, since, until, roles)))
        with self.db.reading() as conn:
            return int(conn.execute(q).scalar_one())

    def recent_predictions(self, model: str, limit: int, *,
                           roles: Sequence[str] = ("answer",),
                           version: str | None = None) -> list[dict[str, Any]]:
        """The last ``limit`` predictions (oldest first), each with its latest label
        (``label``/``labeled_at``, None when unlabelled)."""
        p, f = t.predictions, t.feedback
        q = (sa.select(p).where(p.c.model == model, p.c.role.in_(list(roles)))
             .order_by(p.c.ts.desc(), p.c.id.desc()).limit(limit))
        if version is not None:
            q = q.where(p.c.version == version)
        with self.db.reading() as conn:
            rows = [dict(row._mapping) for row in conn.execute(q)]
            ids = [row["id"] for row in rows]
            labels: dict[str, tuple[Any, float]] = {}
            for i in range(0, len(ids), 500):
                latest = (sa.select(sa.func.max(f.c.id))
                          .where(f.c.kind == "label", f.c.prediction_id.in_(ids[i:i + 500]))
                          .group_by(f.c.prediction_id).scalar_subquery())
                for fb in conn.execute(sa.select(f.c.prediction_id, f.c.value, f.c.ts)
                                       .where(f.c.id.in_(latest))):
                    labels[fb.prediction_id] = (fb.value, fb.ts)
        rows.reverse()
        for row in rows:
            label = labels.get(row["id"])
            row["label"], row["labeled_at"] = label if label is not None else (None, None)
        return rows

    def feedback_targets(self, ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """For each prediction id: its row and its shadow rows (``<id>~<version>``).

        Only the columns monitoring needs: id, ts, model, version, role, stage, outputs.
        """
        p = t.predictions
        cols = [p.c.id, p.c.request_id, p.c.ts, p.c.model, p.c.version, p.c.role, p.c.stage,
                p.c.outputs]
        ids = list(dict.fromkeys(ids))
        out: dict[str, list[dict[str, Any]]] = {}
        with self.db.reading() as conn:
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

    def delete_predictions_before(self, model: str, before: float, limit: int) -> int:
        """Delete up to ``limit`` of the model's oldest predictions older than ``before``."""
        p = t.predictions
        pick = (sa.select(p.c.id).where(p.c.model == model, p.c.ts < before)
                .limit(limit).scalar_subquery())
        with self.db.begin() as conn:
            return int(conn.execute(p.delete().where(p.c.id.in_(pick))).rowcount or 0)

    def subject_predictions(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The predictions (id, request id, model, inputs) logged under these request keys."""
        p = t.predictions
        q = (sa.select(p.c.id, p.c.request_id, p.c.model, p.c.inputs)
             .where(p.c.request_key.in_(list(keys))))
        with self.db.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def erase_predictions(self, ids: Sequence[str], request_ids: Sequence[str]) -> dict[str, int]:
        """Delete these predictions and everything that refers to them (feedback, review
        items and labels, dead letters) in one transaction; counts per table."""
        counts = {"predictions": 0, "feedback": 0, "review_items": 0, "review_labels": 0,
                  "dead_letters": 0}
        refs = sorted(set(ids) | set(request_ids))
        with self.db.begin() as conn:
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
        with self.db.reading() as conn:
            return conn.execute(q).first() is not None


_PREDICTION_COLUMNS = tuple(c.name for c in t.predictions.columns)
_prediction_values = operator.itemgetter(*_PREDICTION_COLUMNS)
_SQLITE_INSERT_PREDICTIONS = (
    f"INSERT INTO predictions ({', '.join(_PREDICTION_COLUMNS)}) VALUES "
    f"({', '.join('?' for _ in _PREDICTION_COLUMNS)}) ON CONFLICT (id) DO NOTHING")
