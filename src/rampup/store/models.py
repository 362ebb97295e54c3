"""The model registry's rows: models, their immutable versions, and the experiment record
(evaluations) of each version."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from rampup.errors import ConflictError, NotFoundError
from rampup.store import schema as t
from rampup.store.records import EvaluationRecord, ModelRecord, VersionRecord
from rampup.store.transactions import Repository


class SqlModels(Repository):
    """Models and versions (versions are immutable: a name is never reused)."""

    def ensure_model(self, name: str, description: str = "",
                     config: dict[str, Any] | None = None) -> ModelRecord:
        with self.db.begin() as conn:
            row = conn.execute(sa.select(t.models).where(t.models.c.name == name)).first()
            if row is None:
                values = {"name": name, "created_at": time.time(),
                          "description": description, "config": config or {}}
                conn.execute(self.db.insert_ignore(t.models, ["name"]).values(**values))
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
        with self.db.reading() as conn:
            row = conn.execute(sa.select(t.models).where(t.models.c.name == name)).first()
        return None if row is None else ModelRecord(row.name, row.created_at, row.description,
                                                    row.config)

    def list_models(self) -> list[ModelRecord]:
        with self.db.reading() as conn:
            rows = conn.execute(sa.select(t.models).order_by(t.models.c.name)).all()
        return [ModelRecord(r.name, r.created_at, r.description, r.config) for r in rows]

    def next_version_seq(self, model: str) -> int:
        with self.db.reading() as conn:
            seq = conn.execute(sa.select(sa.func.max(t.versions.c.seq))
                               .where(t.versions.c.model == model)).scalar()
        return int(seq or 0) + 1

    def add_version(self, record: VersionRecord) -> VersionRecord:
        values = {f: getattr(record, f) for f in VersionRecord.__slots__}
        try:
            with self.db.begin() as conn:
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
        with self.db.reading() as conn:
            row = conn.execute(sa.select(t.versions).where(
                t.versions.c.model == model, t.versions.c.version == version)).first()
        return None if row is None else _version(row)

    def list_versions(self, model: str | None = None) -> list[VersionRecord]:
        q = sa.select(t.versions).order_by(t.versions.c.model, t.versions.c.seq)
        if model is not None:
            q = q.where(t.versions.c.model == model)
        with self.db.reading() as conn:
            return [_version(r) for r in conn.execute(q)]

    def find_version_by_hash(self, model: str, artifact_hash: str) -> VersionRecord | None:
        with self.db.reading() as conn:
            row = conn.execute(sa.select(t.versions).where(
                t.versions.c.model == model, t.versions.c.artifact_hash == artifact_hash
            ).order_by(t.versions.c.seq)).first()
        return None if row is None else _version(row)


class SqlEvaluations(Repository):
    """Evaluations, audits and calibrations recorded against a version."""

    def add_evaluation(self, model: str, version: str, kind: str, *, summary: dict[str, Any],
                       result: dict[str, Any], passed: bool | None = None, name: str = "",
                       actor: str = "cli") -> EvaluationRecord:
        now = time.time()
        with self.db.begin() as conn:
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
        with self.db.reading() as conn:
            return [EvaluationRecord(r.id, r.model, r.version, r.kind, r.name, r.created_at,
                                     r.actor, r.passed, r.summary, r.result)
                    for r in conn.execute(q)]


def _version(r: Any) -> VersionRecord:
    return VersionRecord(
        model=r.model, version=r.version, seq=r.seq, flavor=r.flavor,
        artifact_uri=r.artifact_uri, artifact_hash=r.artifact_hash,
        input_schema=r.input_schema, output=r.output, profile=r.profile,
        metadata=r.metadata, created_at=r.created_at, created_by=r.created_by)
