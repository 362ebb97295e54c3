"""What the project file says about retraining a model: the ``retrain:`` section.

::

    models:
      loan-default:
        retrain:
          entry_point: mypkg.train:train     # or  command: "python train.py {dataset} {output}"
          params: {C: 0.5}
          label_column: defaulted            # default: the version's label column
          reference: data/reference.parquet  # default: the champion's declared reference
          since: 30d                         # window of logged, labelled predictions
          recency_half_life: 7d              # optional: a sample_weight column
          evaluation: {holdout: 0.2, metric: accuracy, tolerance: 0.01}
          guards: {min_new_labels: 200, cooldown: 6h, max_runs_per_day: 2}
          schedule: 1d                       # optional: a run every day
          timeout: 30m
          queue_timeout: 15m                 # a queued run nothing started expires
          auto_rollout: true                 # false: wait for 'rampup retrain approve RUN'
          rollout: {strategy: canary}        # or plan: {steps: [...]} / plan: plan.yaml
          replay_last: 2000
          engine: ray                        # train as a Ray task (default: local)
          ray: {address: "ray://head:10001", num_cpus: 2}
          workspace: s3://bucket/retrain     # where runs are kept (default: retrain/)

>>> s = RetrainSpec.model_validate({"entry_point": "m:f", "guards": {"cooldown": "2h"}})
>>> s.guards.cooldown_s, s.timeout_s, s.evaluation.holdout, s.rollout.strategy
(7200.0, 1800.0, 0.2, 'canary')
>>> import pydantic
>>> try:
...     RetrainSpec.model_validate({})
... except pydantic.ValidationError as exc:
...     print(exc.errors()[0]["msg"])
Value error, give exactly one of entry_point (module:function) or command (a shell command)
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rampup.durations import parse_duration
from rampup.durations import validator_seconds as _seconds

IMPORT_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
PLACEHOLDERS = ("dataset", "output", "params", "holdout", "metrics")
Duration = str | float


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvaluationPolicy(_Spec):
    """How the candidate is judged against the champion (on the same rows)."""

    holdout: float = Field(default=0.2, gt=0, lt=1,
                           description="fraction of the logged rows held out for evaluation")
    test_set: str | None = Field(default=None,
                                 description="a fixed labelled test set (CSV/Parquet) instead")
    metric: str = Field(default="accuracy", description="the metric that decides")
    tolerance: float = Field(default=0.01, ge=0,
                             description="the candidate may be this much worse and still match")
    bootstrap: int = Field(default=300, ge=0, le=10_000)
    seed: int = 0


class Guards(_Spec):
    """When a run may start (manual runs may bypass all but the concurrency guard)."""

    min_new_labels: int = Field(default=100, ge=0,
                                description="labelled rows received since the last run")
    cooldown: Duration = Field(default="1h", description="time between runs")
    max_runs_per_day: int = Field(default=4, ge=1)

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, v: Duration, info: ValidationInfo) -> Duration:
        _seconds(v, (info.field_name or "duration").rstrip("_"))
        return v

    @property
    def cooldown_s(self) -> float:
        return parse_duration(self.cooldown)


class RolloutChoice(_Spec):
    strategy: Literal["shadow", "canary", "bluegreen"] = "canary"
    plan: dict[str, Any] | str | None = Field(
        default=None, description="a plan (steps, checks) inline or a YAML file")


class RayChoice(_Spec):
    """Where a ``engine: ray`` run trains."""

    address: str | None = Field(default=None, description="the cluster (default: "
                                "RAY_ADDRESS, else a local Ray started for the run)")
    num_cpus: float = Field(default=1.0, gt=0, description="CPUs the training task takes")


class RetrainSpec(_Spec):
    """The ``retrain:`` section of a model in ``rampup.yaml``."""

    entry_point: str | None = Field(default=None, description="module:function(dataset, params)")
    command: str | None = Field(default=None, description="shell command; placeholders "
                                "{dataset} {output} {params} {holdout} {metrics}")
    params: dict[str, Any] = Field(default_factory=dict)
    label_column: str | None = None
    reference: str | None = Field(default=None, description="reference (training) data file")
    since: Duration | None = Field(default="30d", description="window of the prediction log")
    recency_half_life: Duration | None = None
    evaluation: EvaluationPolicy = Field(default_factory=EvaluationPolicy)
    guards: Guards = Field(default_factory=Guards)
    schedule: Duration | None = Field(default=None, description="start a run this often")
    timeout: Duration = "30m"
    queue_timeout: Duration = Field(default="15m", description="a queued run that no server "
                                    "started within this long expires, with the reason")
    auto_rollout: bool = Field(default=True, description="false: wait for approval")
    rollout: RolloutChoice = Field(default_factory=RolloutChoice)
    replay_last: int = Field(default=1000, ge=0, description="requests replayed (0: none)")
    engine: Literal["local", "ray"] = Field(
        default="local", description="local: a subprocess of this process; ray: the same "
        "job as a task on a Ray cluster (needs 'rampup[ray]')")
    ray: RayChoice = Field(default_factory=RayChoice)
    workspace: str | None = Field(
        default=None, description="folder or fsspec URL (s3://bucket/prefix) where each "
        "run's dataset, model, metrics and log are kept (default: retrain/ in the project)")
    log_rows: bool = Field(default=True, description="learn from labelled prediction-log rows; "
                           "false: the reference data only (needed when privacy rules drop "
                           "or hash one of the model's inputs)")

    @model_validator(mode="after")
    def _one_entry(self) -> RetrainSpec:
        if (self.entry_point is None) == (self.command is None):
            raise ValueError("give exactly one of entry_point (module:function) or command "
                             "(a shell command)")
        if self.entry_point is not None and not IMPORT_RE.fullmatch(self.entry_point):
            raise ValueError(f"entry_point {self.entry_point!r} is not 'module:function'")
        if self.command is not None and "{output}" not in self.command:
            raise ValueError("the command must write the model to {output} (use the "
                             "placeholder)")
        for name in ("since", "recency_half_life", "schedule", "timeout", "queue_timeout"):
            value = getattr(self, name)
            if value is not None and _seconds(value, name) <= 0:
                raise ValueError(f"{name} must be a positive duration, not {value!r}")
        return self

    @property
    def timeout_s(self) -> float:
        return parse_duration(self.timeout)

    @property
    def queue_timeout_s(self) -> float:
        return parse_duration(self.queue_timeout)

    @property
    def since_s(self) -> float | None:
        return None if self.since is None else parse_duration(self.since)

    @property
    def half_life_s(self) -> float | None:
        return None if self.recency_half_life is None else parse_duration(
            self.recency_half_life)

    @property
    def schedule_s(self) -> float | None:
        return None if self.schedule is None else parse_duration(self.schedule)
