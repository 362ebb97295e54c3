"""The model registry: register immutable versions, look them up, load them.

>>> import tempfile; from rampup.store import Database
>>> tmp = Path(tempfile.mkdtemp())
>>> registry = Registry(Database.open(f"sqlite:///{tmp / 'r.db'}"),
...                     ArtifactStore(tmp / "artifacts"))
>>> _ = (tmp / "echo.py").write_text("class Echo:\\n    def predict(self, rows):\\n"
...                                  "        return [len(r) for r in rows]\\n")
>>> record = registry.register("echo", f"{tmp / 'echo.py'}:Echo")
>>> record.version, record.flavor, record.output["kind"]
('v1', 'python', 'free')
>>> registry.load(record).predict(FeatureBatch({}, 1, raw=[{"a": 1}])).predictions
[1]
>>> registry.register("echo", f"{tmp / 'echo.py'}:Echo").version  # same content: same version
'v1'
>>> registry.store.close()
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pandas as pd

from rampup.errors import (
    ConflictError,
    ModelError,
    NotFoundError,
    RampupError,
    SupersededError,
    ValidationError,
)
from rampup.project import FeatureSpec, ProjectFile, check_name
from rampup.registry import remote
from rampup.registry.artifacts import ArtifactStore, hash_path
from rampup.registry.flavors import Flavor, Source, detect_flavor, get_flavor
from rampup.registry.objectstore import open_artifacts
from rampup.registry.predictor import FeatureBatch, PredictionBatch, Predictor
from rampup.registry.profile import compute_profile, frame_hash, infer_schema, read_table
from rampup.registry.provenance import build_metadata, git_commit
from rampup.registry.resolve import (
    check_declared,
    declared_schema,
    merge_schema,
    reference_batch,
    resolve_output,
)
from rampup.registry.schema import InputSchema, OutputSpec
from rampup.security.privacy import check_inputs
from rampup.store import Database, VersionRecord

if TYPE_CHECKING:
    from rampup.config import Settings

T = TypeVar("T")
log = logging.getLogger("rampup.registry")
SMOKE_ROWS = 100
OUTPUT_ROWS = 5000  # reference rows the model predicts at registration (its output profile)


@dataclass(frozen=True)
class SyncItem:
    """What ``sync_project`` did for one declared version."""

    model: str
    version: str
    status: Literal["registered", "unchanged"]
    record: VersionRecord


def initial_policy(version: str) -> dict[str, Any]:
    """A deployment sending all traffic to ``version`` (the serving layer's policy format)."""
    return {"routes": {version: 100.0}, "mirrors": {}, "standby": None}


def _guarded(what: str, fn: Callable[[], T]) -> T:
    """Run model code; anything but our own errors becomes a ModelError saying what failed."""
    try:
        return fn()
    except RampupError:
        raise
    except Exception as exc:
        raise ModelError(f"{what} failed: {type(exc).__name__}: {exc}",
                         fix="check that the artifact was saved correctly with the "
                             "library versions installed here") from exc


def _describe_source(source: Source) -> str:
    """Where the artifact came from, as an absolute path when it is one."""
    path = Path(source)
    return str(path.resolve()) if path.exists() else str(source)


@dataclass
class _Reference:
    frame: pd.DataFrame | None = None
    data_hash: str | None = None
    label_column: str | None = None
    base_dir: Path | None = None  # where relative file paths of image/audio columns start


def _decoded_media(df: pd.DataFrame, schema: InputSchema, base_dir: Path | None,
                   ) -> pd.DataFrame:
    """The reference frame with image/audio columns (file paths or bytes) decoded, so the
    profile has their input metrics and the smoke test feeds the model real inputs."""
    binary = [f for f in schema.features if f.dtype in ("image", "audio") and f.name in df]
    if not binary:
        return df
    from rampup.inputs.files import decode_column

    df = df.copy()
    for f in binary:
        values, problems = decode_column(df[f.name].tolist(), f, base_dir)
        bad = next(((i, p) for i, p in enumerate(problems) if p is not None), None)
        if bad is not None:
            raise ValidationError(f"reference row {bad[0] + 1}: {f.name} {bad[1]}",
                                  fix="fix or drop that row of the reference data")
        col = pd.Series(values, index=df.index, dtype=object)
        df[f.name] = col
    return df


class Registry:
    """Versions of models: artifact copies in an :class:`ArtifactStore`, records in a Store."""

    def __init__(self, store: Database, artifacts: ArtifactStore,
                 project: ProjectFile | None = None, *,
                 storage_options: dict[str, Any] | None = None) -> None:
        self.store = store
        self.artifacts = artifacts
        #: the project file, when known: registration checks its privacy rules
        self.project = project
        #: fsspec options for data at URLs (reference files, retraining workspaces)
        self.storage_options = dict(storage_options or {})

    @classmethod
    def from_settings(cls, settings: Settings, store: Database,
                      project: ProjectFile | None = None) -> Registry:
        return cls(store, open_artifacts(settings.resolved_artifacts_location,
                                         settings.resolved_artifact_cache_dir,
                                         settings.artifact_storage_options), project,
                   storage_options=settings.artifact_storage_options)

    # -- lookups ------------------------------------------------------------------------

    def get(self, model: str, version: str) -> VersionRecord:
        record = self.store.models.get_version(model, version)
        if record is not None:
            return record
        existing = [v.version for v in self.store.models.list_versions(model)]
        if not existing:
            raise NotFoundError(f"model {model!r} has no registered versions",
                                fix="register one with 'rampup register MODEL PATH'")
        raise NotFoundError(f"model {model!r} has no version {version!r}; existing versions: "
                            f"{', '.join(existing)}", fix="use one of the existing versions")

    def latest(self, model: str) -> VersionRecord:
        """The most recently registered version of ``model``."""
        versions = self.store.models.list_versions(model)
        if not versions:
            raise NotFoundError(f"model {model!r} has no registered versions",
                                fix="register one with 'rampup register MODEL PATH'")
        return versions[-1]

    def versions(self, model: str | None = None) -> list[VersionRecord]:
        return self.store.models.list_versions(model)

    def load(self, record: VersionRecord, *, verify: bool = True) -> Predictor:
        """Load a version from its stored artifact copy.

        With ``verify`` the copy's hash is checked first, so a tampered artifact is
        refused rather than served (an object store's copy is always checked when it is
        downloaded). Nothing is cached here; callers keep the predictor.
        """
        flavor = get_flavor(record.flavor)
        label = f"{record.model}@{record.version}"
        artifacts = self.artifacts.pinned(record.artifact_hash, label, verify=verify)
        stored = flavor.stored_path(record.artifact_uri, artifacts)
        if stored is not None:
            if not stored.exists():
                raise NotFoundError(f"the artifact of {label} is missing ({stored})",
                                    fix="restore the artifacts folder or set "
                                        "RAMPUP_ARTIFACTS_DIR to where it lives")
            if (verify and not artifacts.verifies_on_fetch
                    and hash_path(stored) != record.artifact_hash):
                raise ModelError(f"the artifact of {label} changed since it was registered",
                                 fix="restore the original file, or register the new one "
                                     "as a new version")
        location = flavor.locate(record.artifact_uri, artifacts)
        schema = InputSchema.from_dict(record.input_schema)
        output = OutputSpec.from_dict(record.output)
        return _guarded(f"loading {label}", lambda: flavor.load(location, schema, output))

    # -- registration -------------------------------------------------------------------

    def register(
        self, model: str, source: str | Path, *, version: str | None = None,
        flavor: str = "auto", reference: str | Path | pd.DataFrame | None = None,
        label_column: str | None = None, features: Sequence[FeatureSpec] | None = None,
        metadata: dict[str, Any] | None = None, actor: str = "cli",
        deploy: bool | None = None, embedding_function: str | None = None,
    ) -> VersionRecord:
        """Register ``source`` as a new version of ``model`` (idempotent by content hash).

        ``deploy``: ``True`` routes all traffic to the new version; ``None`` does so only
        when the model has no deployment yet; ``False`` never. ``embedding_function``:
        ``module:function`` turning one input record into an embedding vector (rampup.yaml
        ``embedding_function``), applied to the reference for embedding drift.
        """
        check_name(model, "model")
        if version is not None:
            check_name(version, "version")
        fl = detect_flavor(source) if flavor == "auto" else get_flavor(flavor)
        fl.check_source(source)
        digest = fl.fingerprint(source)
        existing = next((v for v in self.store.models.list_versions(model)
                         if v.artifact_hash == digest and fl.same_artifact(v.artifact_uri,
                                                                           source)), None)
        if existing is not None:
            if version not in (None, existing.version):
                raise ConflictError(
                    f"{source} is already registered as {model}@{existing.version} (same "
                    f"content hash {digest[:19]}…), so it cannot also be {version!r}",
                    fix=f"use {model}@{existing.version}, or omit the version name")
            if deploy:
                self._deploy(model, existing.version, actor, force=True)
            return existing
        if version is not None and self.store.models.get_version(model, version) is not None:
            raise ConflictError(f"{model}@{version} already exists with different content",
                                fix="versions are immutable: choose a new version name, or "
                                    "omit it to get the next one")
        ref = self._reference(reference, label_column)
        if embedding_function is None and self.project is not None:
            spec = self.project.models.get(model)
            embedding_function = spec.embedding_function if spec is not None else None
        for attempt in range(5):
            name = version or self._next_name(model)
            try:
                record = self._add(fl, model, name, source, ref, features, metadata, actor,
                                   embedding_function)
            except ConflictError:  # someone registered the same name meanwhile
                if version is not None or attempt == 4:
                    raise
                continue
            break
        self.store.events.add_event(actor, "register", model=model, version=record.version,
                                    details={
            "flavor": record.flavor, "artifact_hash": record.artifact_hash,
            "source": record.metadata["source"]})
        self._deploy(model, record.version, actor, force=bool(deploy), skip=deploy is False)
        return record

    def _reference(self, reference: str | Path | pd.DataFrame | None,
                   label_column: str | None) -> _Reference:
        if reference is None:
            if label_column is not None:
                raise ValidationError("a label column was given without reference data",
                                      fix="pass --reference with the training data")
            return _Reference()
        base: Path | None = None
        if isinstance(reference, pd.DataFrame):
            frame, data_hash = reference, frame_hash(reference)
        elif remote.local_path(reference) is None:  # s3://...: hashed as the file it is
            with tempfile.TemporaryDirectory(prefix="rampup-reference-") as tmp:
                local = remote.fetch(str(reference), Path(tmp) / str(reference).rsplit(
                    "/", 1)[-1], self.storage_options, "reference data")
                frame, data_hash = read_table(local), hash_path(local)
        else:
            path = remote.local_path(reference)
            assert path is not None
            frame, data_hash, base = read_table(path), hash_path(path), path.parent
        if label_column is not None and label_column not in frame.columns:
            raise ValidationError(
                f"label column {label_column!r} is not in the reference data",
                fix=f"use one of: {', '.join(map(str, frame.columns))}")
        if frame.empty:
            raise ValidationError("the reference data has no rows",
                                  fix="pass the data the model was trained on")
        return _Reference(frame, data_hash, label_column, base)

    def _next_name(self, model: str) -> str:
        n = self.store.models.next_version_seq(model)
        while self.store.models.get_version(model, f"v{n}") is not None:
            n += 1
        return f"v{n}"

    def _add(self, fl: Flavor, model: str, name: str, source: Source, ref: _Reference,
             features: Sequence[FeatureSpec] | None, metadata: dict[str, Any] | None,
             actor: str, embedding_function: str | None = None) -> VersionRecord:
        """Copy, inspect, load, smoke-test and store one version; undo the copy on failure."""
        self.artifacts.remove(model, name)  # a leftover of an earlier failed attempt
        seq = self.store.models.next_version_seq(model)
        uri, digest = fl.save(source, self.artifacts, model, name)
        try:
            schema, output, profile = self._describe(fl, model, name, uri, digest, ref,
                                                     features, embedding_function)
            if self.project is not None:
                check_inputs(self.project, model, schema.names)
            md = build_metadata(metadata, actor=actor, libraries=fl.library_versions(),
                                git_commit=git_commit(fl.source_dir(source)),
                                data_hash=ref.data_hash, source=_describe_source(source))
            record = VersionRecord(
                model=model, version=name, seq=seq, flavor=fl.name, artifact_uri=uri,
                artifact_hash=digest, input_schema=schema.to_dict(), output=output.to_dict(),
                profile=profile, metadata=md, created_at=time.time(), created_by=actor)
            self.store.models.ensure_model(model)
            return self.store.models.add_version(record)
        except BaseException:
            self.artifacts.remove(model, name)
            raise

    def _describe(self, fl: Flavor, model: str, name: str, uri: str, digest: str,
                  ref: _Reference, features: Sequence[FeatureSpec] | None,
                  embedding_function: str | None = None,
                  ) -> tuple[InputSchema, OutputSpec, dict[str, Any] | None]:
        label = f"{model}@{name}"
        location = fl.locate(uri, self.artifacts.pinned(digest, label))
        art_schema, art_output = _guarded(f"inspecting {label}", lambda: fl.inspect(location))
        df = ref.frame
        ref_schema = None
        if df is not None:
            ref_schema = infer_schema(df, exclude=[ref.label_column] if ref.label_column else [])
        schema: InputSchema | None
        if features:
            schema = declared_schema(features)
            check_declared(schema, art_schema)
        else:
            schema = merge_schema(art_schema, ref_schema)
        if schema is None and fl.allows_free_form:
            schema = InputSchema.any()
        if schema is None or not (schema.features or fl.allows_free_form):
            raise ValidationError(
                f"cannot tell which features {label} takes: the {fl.name} artifact does not "
                "say", fix="pass --reference with the training data, or declare features "
                           "for the version in rampup.yaml")
        labels = df[ref.label_column] if df is not None and ref.label_column else None
        output = resolve_output(art_output, labels)
        if df is not None:
            df = _decoded_media(df, schema, ref.base_dir)
        profile = None
        if df is not None:
            profile = compute_profile(df, schema, ref.label_column, data_hash=ref.data_hash)
        predictor = _guarded(f"loading {label}", lambda: fl.load(location, schema, output))
        if df is not None:
            batch = reference_batch(df, schema, SMOKE_ROWS)
            self._smoke_test(label, predictor, batch)
            if profile is not None:
                outputs, predictions, result, sample = _reference_outputs(label, predictor,
                                                                          df, schema)
                if outputs is not None:
                    profile["output"] = outputs
                if ref.label_column and result is not None and result.probabilities:
                    from rampup.drift.estimate import reference_estimator

                    label_free = reference_estimator(result.probabilities, predictions,
                                                     sample[ref.label_column].tolist())
                    if label_free is not None:
                        profile["label_free"] = label_free
                embedding = (_function_embeddings(embedding_function, df, label)
                             if embedding_function else _reference_embeddings(predictions))
                if embedding is not None:
                    profile["embedding"] = embedding
                    output = replace(output, embedding=str(embedding["field"]))
        return schema, output, profile

    @staticmethod
    def _smoke_test(label: str, predictor: Predictor, batch: FeatureBatch) -> None:
        try:
            result = predictor.predict(batch)
        except Exception as exc:
            raise ModelError(
                f"{label} loaded but failed to predict on the first {batch.n} reference rows: "
                f"{type(exc).__name__}: {exc}",
                fix="check that the reference data matches what the model was trained on "
                    "(columns, types, categories)") from exc
        if len(result) != batch.n:
            raise ModelError(f"{label} returned {len(result)} predictions for {batch.n} "
                             "reference rows", fix="return one prediction per record")

    def _deploy(self, model: str, version: str, actor: str, *, force: bool,
                skip: bool = False) -> None:
        if skip:
            return
        from rampup.store.deployments import Change, Fence

        current = self.store.deployments.current_deployment(model)
        policy = initial_policy(version)
        if current is not None and (not force or current.policy == policy):
            return
        reason = "initial deployment" if current is None else f"deploy {version} on register"
        # Fenced on what was read: a deployment made meanwhile wins.
        try:
            self.store.deployments.decide(model, Fence(None if current is None else current.id),
                                          Change(actor, reason, policy=policy, always=True))
        except SupersededError:
            if current is not None:
                raise  # the person asked for this version: say it did not happen

    # -- the project file ---------------------------------------------------------------

    def sync_project(self, project: ProjectFile, project_dir: Path, *,
                     actor: str = "apply") -> list[SyncItem]:
        """Register every version declared in rampup.yaml that is not registered yet.

        Paths are relative to ``project_dir``. A declared version that is registered with
        a different artifact hash is a ConflictError: versions are immutable.
        """
        items: list[SyncItem] = []
        if self.project is None:
            self.project = project
        for model, spec in project.models.items():
            for name, vspec in spec.versions.items():
                try:
                    fl, source = self._resolve(vspec.artifact, vspec.flavor, project_dir)
                    fl.check_source(source)
                except NotFoundError as exc:
                    raise NotFoundError(
                        f"rampup.yaml declares {model}@{name}, but its {exc.message}",
                        fix=f"create it (train the model first), or remove "
                            f"models.{model}.versions.{name} from rampup.yaml") from None
                existing = self.store.models.get_version(model, name)
                if existing is not None:
                    if fl.fingerprint(source) != existing.artifact_hash:
                        raise ConflictError(
                            f"{model}@{name} is registered with a different artifact than "
                            f"{vspec.artifact} now holds",
                            fix="versions are immutable: declare the new artifact as a new "
                                "version")
                    items.append(SyncItem(model, name, "unchanged", existing))
                    continue
                reference: Path | None = None
                if vspec.reference is not None:
                    reference = Path(vspec.reference)
                    if not reference.is_absolute():
                        reference = project_dir / reference
                record = self.register(
                    model, source, version=name, flavor=fl.name, reference=reference,
                    label_column=vspec.label_column, features=vspec.features,
                    metadata=vspec.metadata, actor=actor,
                    embedding_function=spec.embedding_function)
                items.append(SyncItem(model, name, "registered", record))
            if spec.description and spec.versions:
                self.store.models.ensure_model(model, description=spec.description)
        return items

    @staticmethod
    def _resolve(artifact: str, flavor: str, base: Path) -> tuple[Flavor, Source]:
        if flavor != "auto":
            fl = get_flavor(flavor)
            return fl, fl.resolve_source(artifact, base)
        python = get_flavor("python")
        if python.detect(artifact):
            return python, python.resolve_source(artifact, base)
        path = Path(artifact)
        source = path if path.is_absolute() else base / path
        return detect_flavor(source), source


def _function_embeddings(path: str, df: pd.DataFrame, label: str) -> dict[str, Any] | None:
    """The reference embedding sample from a user function (one record -> a vector); a
    function that fails on the reference is a ConfigError naming it."""
    from rampup.drift.embeddings import REFERENCE_ROWS, function_predictions
    from rampup.drift.embeddings import reference_embedding_profile as profile_of
    from rampup.monitor.custom import load_function

    fn = load_function(path, f"{label}: embedding_function")
    sample = df.sample(REFERENCE_ROWS, random_state=0) if len(df) > REFERENCE_ROWS else df
    records = sample.to_dict(orient="records")
    prof = profile_of(function_predictions(fn, records, where=f"{label}: embedding_function "
                                                               f"{path}"))
    if prof is None:
        raise ValidationError(f"{label}: embedding_function {path} returned no vectors of "
                              "finite numbers on the reference data",
                              fix="return one list of floats (one length) per record")
    return {**prof, "function": path, "rows": len(df)}


def _reference_embeddings(predictions: Sequence[Any]) -> dict[str, Any] | None:
    """The embedding sample of the reference outputs (``profile["embedding"]``) when the
    model returns one per prediction (``{"embedding": [...]}``): embedding drift then has
    a reference without a baseline period."""
    from rampup.drift.embeddings import reference_embedding_profile

    return reference_embedding_profile(predictions) if predictions else None


def _reference_outputs(label: str, predictor: Predictor, df: pd.DataFrame,
                       schema: InputSchema
                       ) -> tuple[dict[str, Any] | None, list[Any], PredictionBatch | None,
                                  pd.DataFrame]:
    """The model's outputs on (a seeded sample of) its reference data, profiled like
    features: output drift then needs no baseline period. None when the model cannot
    predict the sample (the smoke test already passed on the first rows, so this is
    rare: logged, registration goes on). Also the raw result and the sample, for the
    label-free estimator (``profile["label_free"]``)."""
    from rampup.drift.output import output_profile

    sample = df.sample(OUTPUT_ROWS, random_state=0) if len(df) > OUTPUT_ROWS else df
    try:
        result = predictor.predict(reference_batch(sample, schema, len(sample)))
    except Exception as exc:  # an output profile is a bonus, never a reason to refuse
        log.warning("%s: no reference output profile: %s: %s", label, type(exc).__name__, exc)
        return None, [], None, sample
    predictions = list(result.predictions)
    try:
        frame = pd.DataFrame({"prediction": pd.Series(predictions, dtype=object)})
        if result.confidence is not None:
            frame["confidence"] = pd.to_numeric(pd.Series(result.confidence, dtype=object))
        return output_profile(frame), predictions, result, sample
    except Exception as exc:
        log.warning("%s: no reference output profile: %s: %s", label, type(exc).__name__, exc)
        return None, predictions, result, sample
