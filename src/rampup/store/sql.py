"""The store: one implementation over SQLAlchemy Core for SQLite and PostgreSQL."""

from __future__ import annotations

import operator
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from rampup.errors import ConflictError, NotFoundError
from rampup.store import schema as t
from rampup.store.alert_rows import AlertRows
from rampup.store.dashboard_rows import DashboardRows
from rampup.store.dead_letter_rows import DeadLetterRows
from rampup.store.deployment_rows import DeploymentRows
from rampup.store.engine import create_engine, insert_ignore
from rampup.store.erase_rows import EraseRows
from rampup.store.metric_rows import MetricRows
from rampup.store.migrate import upgrade
from rampup.store.records import (
    EvaluationRecord,
    EventRecord,
    FeedbackRecord,
    ModelRecord,
    VersionRecord,
)
from rampup.store.retrain_rows import RetrainRows
from rampup.store.review_rows import ReviewRows
from rampup.store.rollout_rows import RolloutRows
from rampup.store.token_rows import TokenRows


class Store(DeploymentRows, RolloutRows, MetricRows, AlertRows, RetrainRows, ReviewRows,
            DashboardRows, DeadLetterRows, TokenRows, EraseRows):
    """Everything rampup keeps: registry, deployments, prediction log, feedback, events.

    Thread-safe (each call takes a pooled connection). Open with :meth:`open`, which
    applies migrations unless ``migrate=False``.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        engine = create_engine(url)
        if migrate:
            upgrade(engine)
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    # -- models -------------------------------------------------------------------------

    def ensure_model(self, name: str, description: str = "",
                     config: dict[str, Any] | None = None) -> ModelRecord:
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t.models).where(t.models.c.name == name)).first()
            if row is None:
                values = {"name": name, "created_at": time.time(),
                          "description": description, "config": config or {}}
                conn.execute(self._insert_ignore(t.models, ["name"]).values(**values))
                row = conn.execute(sa.select(t.models).where(t.models.c.name == name)).one()
            elif (config is not None and row.config != config) or (
                description and row.description != description
            ):
                conn.execute(t.models.update().where(t.models.c.name == name).values(
                    config=config if config is not None else row.config,
                    description=description or row.description))
                row = conn.execute(sa.select(t.models).where(t.models.c.name == name)).one()
        return ModelRecord(row.name, row.created_at, row.description, row.config)

    def get_model(self, name: str) -> ModelRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.models).where(t.models.c.name == name)).first()
        return None if row is None else ModelRecord(row.name, row.created_at, row.description,
                                                    row.config)

    def list_models(self) -> list[ModelRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.models).order_by(t.models.c.name)).all()
        return [ModelRecord(r.name, r.created_at, r.description, r.config) for r in rows]

    # -- versions -----------------------------------------------------------------------

    def next_version_seq(self, model: str) -> int:
        with self.engine.connect() as conn:
            seq = conn.execute(sa.select(sa.func.max(t.versions.c.seq))
                               .where(t.versions.c.model == model)).scalar()
        return int(seq or 0) + 1

    def add_version(self, record: VersionRecord) -> VersionRecord:
        values = {f: getattr(record, f) for f in VersionRecord.__slots__}
        try:
            with self.engine.begin() as conn:
                conn.execute(t.versions.insert().values(**values))
        except sa.exc.IntegrityError:
            if self.get_model(record.model) is None:
                raise NotFoundError(f"model {record.model!r} does not exist",
                                    fix="create it first (registering does)") from None
            raise ConflictError(
                f"version {record.model}@{record.version} (or its sequence number) already exists",
                fix="versions are immutable: register under a new version name") from None
        return record

    def get_version(self, model: str, version: str) -> VersionRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.versions).where(
                t.versions.c.model == model, t.versions.c.version == version)).first()
        return None if row is None else _version(row)

    def list_versions(self, model: str | None = None) -> list[VersionRecord]:
        q = sa.select(t.versions).order_by(t.versions.c.model, t.versions.c.seq)
        if model is not None:
            q = q.where(t.versions.c.model == model)
        with self.engine.connect() as conn:
            return [_version(r) for r in conn.execute(q)]

    def find_version_by_hash(self, model: str, artifact_hash: str) -> VersionRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.versions).where(
                t.versions.c.model == model, t.versions.c.artifact_hash == artifact_hash
            ).order_by(t.versions.c.seq)).first()
        return None if row is None else _version(row)

    # -- prediction log -----------------------------------------------------------------

    def insert_predictions(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert pre-serialised prediction rows; ids already present are skipped."""
        if not rows:
            return 0
        if self.dialect == "postgresql":
            return self._copy_predictions(rows)
        if self.dialect == "sqlite":
            return self._sqlite_predictions(rows)
        # RETURNING, not rowcount: SQLAlchemy only guarantees rowcount for UPDATE/DELETE.
        stmt = self._insert_ignore(t.predictions, ["id"]).returning(t.predictions.c.id)
        with self.engine.begin() as conn:
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
        with self.engine.begin() as conn:
            raw: Any = conn.connection.driver_connection
            before = raw.total_changes
            raw.executemany(_SQLITE_INSERT_PREDICTIONS, params)
            return int(raw.total_changes - before)

    def _copy_predictions(self, rows: Sequence[dict[str, Any]]) -> int:
        """PostgreSQL: COPY into a session-local staging table, then one INSERT ... SELECT
        that skips ids already stored (several times faster than batched INSERTs)."""
        cols = [c.name for c in t.predictions.columns]
        col_list = ", ".join(cols)
        with self.engine.begin() as conn:
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
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = sa.select(t.predictions).where(t.predictions.c.id.in_(ids[i:i + 500]))
                out.extend(dict(r._mapping) for r in conn.execute(q))
        return out

    def existing_prediction_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        found: set[str] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = sa.select(t.predictions.c.id, t.predictions.c.model).where(
                    t.predictions.c.id.in_(ids[i:i + 500]))
                found.update(r.id for r in conn.execute(q))
        return found

    def prediction_models(self, ids: Iterable[str]) -> dict[str, str]:
        """Map prediction id -> model for the ids that exist."""
        ids = list(ids)
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
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
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def iter_predictions(
        self, model: str, *, since: float | None = None, until: float | None = None,
        version: str | None = None, roles: Sequence[str] | None = None,
        with_labels: bool = True, chunk_size: int = 10_000,
    ) -> Iterator[list[dict[str, Any]]]:
        """Stream predictions (oldest first) in chunks, joined with their latest label."""
        p = t.predictions
        cols: list[Any] = list(p.c)
        q = sa.select(*cols).where(p.c.model == model)
        if with_labels:
            latest = (sa.select(sa.func.max(t.feedback.c.id).label("fid"))
                      .where(t.feedback.c.kind == "label", t.feedback.c.model == model)
                      .group_by(t.feedback.c.prediction_id).subquery())
            lab = (sa.select(t.feedback.c.prediction_id, t.feedback.c.value.label("label"),
                             t.feedback.c.ts.label("labeled_at"))
                   .join(latest, latest.c.fid == t.feedback.c.id).subquery())
            q = (sa.select(*cols, lab.c.label, lab.c.labeled_at)
                 .select_from(p.outerjoin(lab, lab.c.prediction_id == p.c.id))
                 .where(p.c.model == model))
        if since is not None:
            q = q.where(p.c.ts >= since)
        if until is not None:
            q = q.where(p.c.ts < until)
        if version is not None:
            q = q.where(p.c.version == version)
        if roles:
            q = q.where(p.c.role.in_(list(roles)))
        q = q.order_by(p.c.ts, p.c.id)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(q)
            for part in result.partitions(chunk_size):
                yield [dict(r._mapping) for r in part]

    # -- feedback -----------------------------------------------------------------------

    def add_feedback(self, records: Sequence[FeedbackRecord]) -> list[bool]:
        """Insert feedback; returns, per record, whether it was new (False: a duplicate)."""
        out: list[bool] = []
        with self.engine.begin() as conn:
            for r in records:
                stmt = self._insert_ignore(t.feedback, ["dedupe_key"]).values(
                    prediction_id=r.prediction_id, model=r.model, ts=r.ts, kind=r.kind,
                    name=r.name, value=r.value, source=r.source, dedupe_key=r.dedupe_key
                ).returning(t.feedback.c.id)
                out.append(conn.execute(stmt).first() is not None)
        return out

    def list_feedback(self, prediction_id: str) -> list[FeedbackRecord]:
        q = (sa.select(t.feedback).where(t.feedback.c.prediction_id == prediction_id)
             .order_by(t.feedback.c.id))
        with self.engine.connect() as conn:
            return [FeedbackRecord(r.prediction_id, r.model, r.ts, r.kind, r.name, r.value,
                                   r.source, r.dedupe_key) for r in conn.execute(q)]

    # -- events (audit) -----------------------------------------------------------------

    def add_event(self, actor: str, action: str, *, model: str | None = None,
                  version: str | None = None, details: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as conn:
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
        with self.engine.connect() as conn:
            return [EventRecord(r.id, r.ts, r.actor, r.action, r.model, r.version, r.details)
                    for r in conn.execute(q)]

    # -- evaluations (experiment record) ------------------------------------------------

    def add_evaluation(self, model: str, version: str, kind: str, *, summary: dict[str, Any],
                       result: dict[str, Any], passed: bool | None = None, name: str = "",
                       actor: str = "cli") -> EvaluationRecord:
        now = time.time()
        with self.engine.begin() as conn:
            new_id = conn.execute(t.evaluations.insert().values(
                model=model, version=version, kind=kind, name=name, created_at=now,
                actor=actor, passed=passed, summary=summary, result=result,
            ).returning(t.evaluations.c.id)).scalar_one()
        return EvaluationRecord(int(new_id), model, version, kind, name, now, actor, passed,
                                summary, result)

    def list_evaluations(self, model: str, version: str | None = None, kind: str | None = None,
                         limit: int = 100) -> list[EvaluationRecord]:
        """Newest first."""
        q = (sa.select(t.evaluations).where(t.evaluations.c.model == model)
             .order_by(t.evaluations.c.id.desc()).limit(limit))
        if version is not None:
            q = q.where(t.evaluations.c.version == version)
        if kind is not None:
            q = q.where(t.evaluations.c.kind == kind)
        with self.engine.connect() as conn:
            return [EvaluationRecord(r.id, r.model, r.version, r.kind, r.name, r.created_at,
                                     r.actor, r.passed, r.summary, r.result)
                    for r in conn.execute(q)]

    # -- helpers ------------------------------------------------------------------------

    def _insert_ignore(self, table: sa.Table, keys: list[str]) -> Any:
        return insert_ignore(self.engine, table, keys)


_PREDICTION_COLUMNS = tuple(c.name for c in t.predictions.columns)
_prediction_values = operator.itemgetter(*_PREDICTION_COLUMNS)
_SQLITE_INSERT_PREDICTIONS = (
    f"INSERT INTO predictions ({', '.join(_PREDICTION_COLUMNS)}) VALUES "
    f"({', '.join('?' for _ in _PREDICTION_COLUMNS)}) ON CONFLICT (id) DO NOTHING")


def _version(r: Any) -> VersionRecord:
    return VersionRecord(
        model=r.model, version=r.version, seq=r.seq, flavor=r.flavor,
        artifact_uri=r.artifact_uri, artifact_hash=r.artifact_hash,
        input_schema=r.input_schema, output=r.output, profile=r.profile,
        metadata=r.metadata, created_at=r.created_at, created_by=r.created_by)
