"""The project file, ``rampup.yaml``: models, versions, SLOs and serving options.

Validated with pydantic; :func:`load_project` turns every validation problem into
one :class:`~rampup.errors.ConfigError` whose message names the key, the value and
what is allowed.

>>> p = ProjectFile.model_validate({"models": {"churn": {"slo": {"latency_p99_ms": 50}}}})
>>> p.models["churn"].slo.latency_p99_ms
50.0
>>> p.models["churn"].batching.enabled
True
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rampup.alerts.spec import AlertingSpec, AlertRuleSpec
from rampup.automation.spec import AutomationSpec
from rampup.errors import ConfigError, RampupError
from rampup.retrain.spec import RetrainSpec
from rampup.serving.pipeline_spec import PipelineSpec, check_pipelines

PROJECT_FILE = "rampup.yaml"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
NAME_HELP = ("lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, "
             "at most 63")

METRIC_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
IMPORT_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")

FlavorName = Literal["auto", "sklearn", "onnx", "mlflow", "python"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureSpec(_Strict):
    """A declared input feature (overrides what is inferred from the artifact)."""

    name: str
    type: Literal["float", "int", "bool", "str"] = "float"
    nullable: bool = False
    categories: list[str] | None = None
    strict_categories: bool = False
    min_length: int | None = None
    max_length: int | None = None


class VersionSpec(_Strict):
    """A version declared in the project file; registered by ``rampup apply``/``serve``."""

    artifact: str = Field(description="artifact path, or module:object for Python models")
    flavor: FlavorName = "auto"
    reference: str | None = Field(default=None, description="CSV/Parquet of training data")
    label_column: str | None = None
    features: list[FeatureSpec] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class SLO(_Strict):
    """Service-level objectives; drawn as lines on charts and used as default checks."""

    latency_p50_ms: float | None = Field(default=None, gt=0)
    latency_p99_ms: float | None = Field(default=None, gt=0)
    expected_qps: float | None = Field(default=None, gt=0)
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    key_metrics: list[str] = Field(default_factory=list)


class Batching(_Strict):
    """Adaptive micro-batching of concurrent single requests."""

    enabled: bool = True
    max_batch_size: int = Field(default=64, ge=1, le=10_000)
    max_wait_ms: float = Field(default=2.0, ge=0, le=100)
    max_in_flight: int = Field(
        default=1, ge=1, le=64, description="batches of one version running at once; raise it "
        "for models that release the GIL (ONNX, numpy-heavy) on several cores")


class RequestKey(_Strict):
    """Where the request key (user/session id for sticky routing) comes from."""

    header: str = "x-request-key"
    field: str | None = None


PrivacyAction = Literal["keep", "drop", "hash", "mask"]
PRIVACY_HELP = ("fields of the logged inputs -> drop (never stored), hash (keyed hash: joins "
                "and repeat detection still work), mask (a shape: j***@***.com) or keep")


class Retention(_Strict):
    """How long logged rows are kept (a duration such as 30d, 12w; null: forever).
    Applied by the leader in small batches; aggregates and audit events are kept."""

    predictions: str | None = Field(default=None, description="prediction log rows")
    feedback: str | None = Field(default=None, description="feedback rows")
    review: str | None = Field(default=None, description="review items and their labels")

    @field_validator("predictions", "feedback", "review")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            from rampup.durations import parse_duration

            try:
                seconds = parse_duration(v)
            except RampupError as exc:
                raise ValueError(f"{exc.message} (use a duration such as 30d or 12w)") from None
            if seconds <= 0:
                raise ValueError(f"{v!r} is not a positive duration")
        return v

    def seconds(self, kind: str) -> float | None:
        from rampup.durations import parse_duration

        v = getattr(self, kind)
        return None if v is None else parse_duration(v)


class ModelSpec(_Strict):
    description: str = ""
    versions: dict[str, VersionSpec] = Field(default_factory=dict)
    slo: SLO = Field(default_factory=SLO)
    batching: Batching = Field(default_factory=Batching)
    compiled: bool = Field(
        default=True, description="score linear scikit-learn models (LogisticRegression, "
        "Ridge, ...) by their fitted arithmetic in NumPy, used only when a probe at load "
        "shows answers bit for bit equal to the estimator's own (~30x cheaper per call); "
        "false: always call the estimator's methods")
    request_key: RequestKey = Field(default_factory=RequestKey)
    output_labels: dict[str, str] | None = Field(
        default=None, description="what each class label means, e.g. {'0': 'repays', "
        "'1': 'defaults'}: shown beside the labels on the review page")
    input_metrics: dict[str, str] = Field(
        default_factory=dict, description="user-defined input metrics: name -> "
        "'module:function' taking one input record and returning a number")
    embedding_function: str | None = Field(
        default=None, description="'module:function' taking one input record and returning "
        "its embedding (a list of floats): embedding drift (rampup drift, drift.embedding) "
        "for models whose outputs carry none")
    alerts: list[AlertRuleSpec] = Field(default_factory=list, description="alert rules")
    automation: AutomationSpec = Field(
        default_factory=AutomationSpec, description="automation level, confidence threshold, "
        "audit rate and review queue settings")
    retrain: RetrainSpec | None = Field(default=None, description="the training entry point, "
                                        "its data, guards, evaluation and rollout")
    pipeline: PipelineSpec | None = Field(default=None, description="stages (each a model "
                                          "of this project) run in order; see "
                                          "rampup.serving.pipeline_spec")
    privacy: dict[str, PrivacyAction] = Field(default_factory=dict, description=PRIVACY_HELP)
    retention: Retention | None = Field(default=None, description="overrides the project's "
                                        "retention for this model (per kind)")

    @model_validator(mode="after")
    def _pipeline_has_no_versions(self) -> ModelSpec:
        if self.pipeline is not None and self.versions:
            raise ValueError("a pipeline has no versions of its own: give its stage models "
                             "versions instead")
        return self

    @field_validator("input_metrics")
    @classmethod
    def _input_metrics(cls, v: dict[str, str]) -> dict[str, str]:
        for name, path in v.items():
            if not METRIC_NAME_RE.fullmatch(name):
                raise ValueError(f"input metric name {name!r}: use lowercase letters, digits "
                                 "and '_' (at most 63)")
            if not IMPORT_RE.fullmatch(path):
                raise ValueError(f"input metric {name!r}: {path!r} is not 'module:function'")
        return v

    @field_validator("embedding_function")
    @classmethod
    def _embedding_function(cls, v: str | None) -> str | None:
        if v is not None and not IMPORT_RE.match(v):
            raise ValueError(f"embedding_function: {v!r} is not 'module:function'")
        return v

    @field_validator("versions")
    @classmethod
    def _version_names(cls, v: dict[str, VersionSpec]) -> dict[str, VersionSpec]:
        for name in v:
            check_name(name, "version")
        return v


class ServingSpec(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_records: int = Field(default=1000, ge=1)
    max_json_depth: int = Field(default=64, ge=2, le=200)


class RayAutoscaling(_Strict):
    """Ray Serve autoscaling: replicas between the bounds, aiming at this many requests
    in flight per replica."""

    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=2, ge=1)
    target_ongoing_requests: float = Field(default=8.0, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> RayAutoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) is above max_replicas "
                             f"({self.max_replicas})")
        return self


class RaySpec(_Strict):
    """``rampup serve --engine ray``: the Ray Serve deployment of the app."""

    address: str | None = Field(default=None, description="the Ray cluster (default: "
                                "RAY_ADDRESS, else a local Ray started by the command)")
    replicas: int = Field(default=1, ge=1, description="replicas (without autoscaling)")
    autoscaling: RayAutoscaling | None = Field(default=None, description="replaces a fixed "
                                               "replica count")
    num_cpus: float = Field(default=1.0, gt=0, description="CPUs each replica reserves")


class ProjectFile(_Strict):
    name: str = "rampup"
    database_url: str | None = None
    artifacts_dir: str = "artifacts"
    artifact_cache_dir: str | None = None
    serving: ServingSpec = Field(default_factory=ServingSpec)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    alerting: AlertingSpec = Field(default_factory=AlertingSpec)
    privacy: dict[str, PrivacyAction] = Field(default_factory=dict, description=PRIVACY_HELP
                                              + " (every model; a model's own rules win)")
    retention: Retention = Field(default_factory=Retention)
    ray: RaySpec = Field(default_factory=RaySpec, description="the Ray engine (serve "
                         "--engine ray)")

    def retention_s(self, model: str, kind: str) -> float | None:
        """Seconds a row of ``kind`` (predictions, feedback, review) of ``model`` is kept."""
        spec = self.models.get(model)
        own = spec.retention if spec is not None else None
        if own is not None and getattr(own, kind) is not None:
            return own.seconds(kind)
        return self.retention.seconds(kind)

    @field_validator("models")
    @classmethod
    def _model_names(cls, v: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
        for name in v:
            check_name(name, "model")
        check_pipelines({n: m.pipeline for n, m in v.items() if m.pipeline is not None}, v)
        return v

    def pipelines(self) -> dict[str, PipelineSpec]:
        """The models that are pipelines."""
        return {n: m.pipeline for n, m in self.models.items() if m.pipeline is not None}


def check_name(name: str, what: str) -> str:
    """Return ``name`` if it is a valid model/version name, else raise ConfigError.

    >>> check_name("loan-default", "model")
    'loan-default'
    """
    if not NAME_RE.fullmatch(name):
        raise ConfigError(f"invalid {what} name {name!r}", fix=f"use {NAME_HELP} characters")
    return name


def _format_loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Walk the model classes along ``loc`` to list the keys allowed at that level."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel):
            if isinstance(part, int):  # a list index: the list was unwrapped already
                continue
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:  # dict[str, X]: the key is a user-chosen name, step into X
            args = getattr(current, "__args__", ())
            current = args[-1] if args else None
        while getattr(current, "__args__", None) and not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            inner = [a for a in current.__args__ if a is not type(None)]
            if len(inner) == 1 or getattr(current, "__origin__", None) is not dict:
                current = inner[-1]
            else:
                break
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def explain(exc: pydantic.ValidationError, source: str, model: type[BaseModel]) -> ConfigError:
    """Turn a pydantic error into one message naming key, value and what is allowed."""
    lines = []
    for e in exc.errors():
        key = _format_loc(tuple(e["loc"]))
        value = e.get("input")
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, tuple(e["loc"]))
            lines.append(f"{key}: unknown key; allowed keys here: {', '.join(allowed)}")
        else:
            shown = repr(value) if not isinstance(value, dict) else "{...}"
            lines.append(f"{key} = {shown}: {e['msg']}")
    return ConfigError(f"{source} is invalid:\n  " + "\n  ".join(lines),
                       fix=f"edit {source} as described")


def parse_project(data: Any, source: str = PROJECT_FILE) -> ProjectFile:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a mapping at the top level, "
                          f"got {type(data).__name__}")
    try:
        return ProjectFile.model_validate(data)
    except pydantic.ValidationError as exc:
        raise explain(exc, source, ProjectFile) from None
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}", fix=exc.fix) from None


def find_project_file(path: str | Path | None) -> Path | None:
    """Resolve a project file from a file or folder path (``None``: the current folder)."""
    p = Path(path) if path else Path.cwd()
    if p.is_dir():
        p = p / PROJECT_FILE
    return p if p.is_file() else None


def load_project(path: str | Path) -> ProjectFile:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read project file {p}: {exc.strerror}",
                          fix="run 'rampup init' or pass --project") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p} is not valid YAML: {exc}", fix="fix the YAML syntax") from None
    return parse_project(data, str(p))
