"""Rollout plans: the steps a deployment moves through and the checks that gate them.

A plan is plain, validated data (YAML or the project file). Default plans exist for
each strategy; a plan file overrides them.

>>> p = default_plan("canary")
>>> [s.describe() for s in p.steps]
['canary 5%', 'canary 25%', 'canary 50%', 'canary 100%']
>>> p.checks[0]
'error_rate <= baseline + 0.01'
>>> steps = [{"shadow": 100}, {"approval": "look at agreement"}]
>>> Plan.model_validate({"steps": steps}).steps[1].kind
'approval'
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator

from rampup.durations import validator_seconds
from rampup.errors import ConfigError
from rampup.project import explain

Strategy = Literal["shadow", "canary", "bluegreen"]
StepKind = Literal["shadow", "canary", "bluegreen", "approval"]

DEFAULT_CHECKS = [
    "error_rate <= baseline + 0.01",
    "latency_p99 <= 1.2 * baseline",
    "accuracy >= baseline - 0.02",
]
SHADOW_CHECKS = ["error_rate <= 0.05", "agreement >= 0.8"]


def _seconds(v: Any, info: ValidationInfo) -> Any:
    """Holds and keep times are seconds, or any duration text (``90s``, ``5m``, ``PT1H``)."""
    if not isinstance(v, str):
        return v
    return validator_seconds(v, info.field_name or "duration")


#: seconds in the file's and the API's plans: a number or a duration text
Seconds = Annotated[float, BeforeValidator(_seconds)]


class Step(BaseModel):
    """One step. Written as ``{canary: 25}``, ``{shadow: 100}``, ``{bluegreen: true}`` or
    ``{approval: "why"}``, plus optional holds and checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: StepKind
    weight: float = Field(default=100.0, ge=0, le=100,
                          description="canary: traffic %; shadow: % of requests mirrored")
    note: str = ""
    min_duration_s: Seconds = Field(default=60.0, ge=0)
    min_requests: int = Field(default=100, ge=0)
    max_duration_s: Seconds | None = Field(default=None, gt=0,
                                           description="fail the step if not passed by then")
    checks: list[str] | None = Field(default=None, description="override the plan's checks")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "kind" in data:
            return data
        kinds = [k for k in ("shadow", "canary", "bluegreen", "approval") if k in data]
        if len(kinds) != 1:
            raise ValueError("a step names exactly one of shadow, canary, bluegreen, approval "
                             "(e.g. {canary: 25})")
        out = dict(data)
        kind = kinds[0]
        value = out.pop(kind)
        out["kind"] = kind
        if kind == "approval":
            out.setdefault("note", "" if value in (None, True) else str(value))
            out.setdefault("min_duration_s", 0.0)
            out.setdefault("min_requests", 0)
        elif kind in ("shadow", "canary") and value not in (None, True):
            out["weight"] = value
        return out

    def describe(self) -> str:
        if self.kind == "approval":
            return f"approval{': ' + self.note if self.note else ''}"
        if self.kind == "bluegreen":
            return "blue/green switch"
        return f"{self.kind} {self.weight:g}%"


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "canary"
    steps: list[Step]
    checks: list[str] = Field(default_factory=lambda: list(DEFAULT_CHECKS))
    on_failure: Literal["rollback", "pause"] = "rollback"
    standby_keep_s: Seconds = Field(default=600.0, ge=0,
                                    description="keep the old version warm after promotion")
    alpha: float = Field(default=0.05, gt=0, lt=0.5,
                         description="each check's error rate under continuous monitoring: "
                                     "the judge's confidence sequences hold at 1 - alpha")

    @model_validator(mode="after")
    def _valid(self) -> Plan:
        if not self.steps:
            raise ValueError("a plan needs at least one step")
        from rampup.rollout.checks import parse_check

        for text in self.checks + [c for s in self.steps for c in (s.checks or [])]:
            parse_check(text)
        return self

    def checks_for(self, step: Step) -> list[str]:
        if step.checks is not None:
            return step.checks
        if step.kind == "shadow":
            return list(SHADOW_CHECKS)
        return self.checks

    def scaled(self, factor: float) -> Plan:
        """The same plan with every hold divided by ``factor`` (fast clocks in tests/demos)."""
        steps = [s.model_copy(update={
            "min_duration_s": s.min_duration_s / factor,
            "max_duration_s": s.max_duration_s / factor if s.max_duration_s else None})
            for s in self.steps]
        return self.model_copy(update={"steps": steps,
                                       "standby_keep_s": self.standby_keep_s / factor})


def default_plan(strategy: Strategy) -> Plan:
    if strategy == "shadow":
        return Plan(strategy="shadow", steps=[
            Step(kind="shadow", weight=100, min_duration_s=300, min_requests=500),
            Step(kind="approval", note="review shadow agreement, then approve to promote",
                 min_duration_s=0, min_requests=0)])
    if strategy == "bluegreen":
        return Plan(strategy="bluegreen", steps=[
            Step(kind="bluegreen", min_duration_s=300, min_requests=200)],
            checks=["error_rate <= 0.02"])
    return Plan(strategy="canary", steps=[
        Step(kind="canary", weight=w, min_duration_s=120, min_requests=200)
        for w in (5, 25, 50, 100)])


def parse_plan(data: Any, source: str = "plan") -> Plan:
    try:
        return Plan.model_validate(data)
    except pydantic.ValidationError as exc:
        raise explain(exc, source, Plan) from None


def load_plan(path: str | Path) -> Plan:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read plan {p}: {exc.strerror}",
                          fix="pass an existing YAML file to --plan") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p} is not valid YAML: {exc}", fix="fix the YAML syntax") from None
    return parse_plan(data, str(p))
