"""A declarative audit: checks a model version must pass, and the deployment gate.

An audit is a YAML file::

    name: loan-default-release
    min_support: 30          # slices smaller than this are reported but not judged
    id_column: id            # where must-get-right ids are looked up
    checks:
      - type: overall        # the whole dataset
        metric: accuracy
        min: 0.85            # or max: for metrics where lower is better
      - type: slice          # one slice (where: expression) or every value of a column (by:)
        metric: recall
        where: "age < 25"
        min: 0.7
      - type: max_gap        # fairness: largest difference between groups of an attribute
        metric: selection_rate
        attribute: gender
        max_gap: 0.05
      - type: must_get_right # examples that must be right: ids or an expression
        name: navigational queries
        where: "query_type == 'navigational'"
        min_accuracy: 1.0    # the default

Each check gives a :class:`CheckResult` with pass/fail, the value, the threshold and the
sample size. A slice with no examples fails (the check cannot be evaluated); a slice with
fewer than ``min_support`` examples is *skipped* (``passed`` is None) because its metric
is noise; an undefined metric (e.g. precision with no positive prediction) fails.
Must-get-right ids missing from the data fail.

An audit attached to a model (``config["audit"]`` in the store) gates deployment:
:func:`check_deploy_gate` refuses a version whose latest stored result of that audit
failed, or which has none, unless forced (which is logged as an event).

>>> spec = AuditSpec.model_validate({"name": "demo", "min_support": 1, "checks": [
...     {"type": "overall", "metric": "accuracy", "min": 0.7},
...     {"type": "max_gap", "metric": "accuracy", "attribute": "g", "max_gap": 0.1}]})
>>> df = pd.DataFrame({"g": ["a", "a", "b", "b"]})
>>> res = run_audit(spec, df, [1, 0, 1, 1], [1, 0, 1, 0])
>>> [(c.name, c.passed, c.value, c.threshold, c.n) for c in res.checks]
[('accuracy >= 0.7', True, 0.75, 0.7, 4), ('max gap of accuracy by g <= 0.1', False, 0.5, 0.1, 4)]
>>> res.passed, res.failed
(False, ['max gap of accuracy by g <= 0.1'])
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rampup.analysis.confusion import METRICS
from rampup.analysis.error_analysis import errors_of
from rampup.analysis.groupings import Grouping, by_expressions, by_values
from rampup.analysis.regression import REGRESSION_METRICS
from rampup.analysis.report import Report
from rampup.analysis.slices import SCORE_METRICS, SliceRow, slice_metrics
from rampup.errors import ForbiddenError, ValidationError
from rampup.store import Database

log = logging.getLogger(__name__)

Arr = np.ndarray[Any, Any]
_PER_CLASS = ("precision", "recall", "f1", "false_positive_rate", "false_negative_rate",
              "true_negative_rate", "selection_rate")
ALLOWED_METRICS = (*METRICS, *REGRESSION_METRICS, *SCORE_METRICS, "wer", "cer", "mrr",
                   "map_50", "recall_50", "precision_50")
_AT_K = re.compile(r"^(recall|ndcg|map)_at_\d+$")


def _check_metric(name: str) -> str:
    m = re.match(r"^(\w+)\[(.+)\]$", name)
    if name in ALLOWED_METRICS or (m and m.group(1) in _PER_CLASS) or _AT_K.match(name):
        return name
    raise ValueError(f"unknown metric; allowed: {', '.join(ALLOWED_METRICS)}, "
                     "recall_at_K/ndcg_at_K/map_at_K (ranking), or "
                     f"{'/'.join(_PER_CLASS[:3])}/...[CLASS] for one class")


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    min_support: Annotated[int, Field(ge=1)] | None = None


class _Threshold(_Check):
    metric: str
    min: float | None = None
    max: float | None = None

    @field_validator("metric")
    @classmethod
    def _metric_ok(cls, v: str) -> str:
        return _check_metric(v)

    @model_validator(mode="after")
    def _one_bound(self) -> _Threshold:
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of min: (higher is better) or max: "
                             "(lower is better)")
        return self

    @property
    def bound(self) -> tuple[str, float]:
        return (">=", self.min) if self.min is not None else ("<=", float(self.max or 0))


class OverallCheck(_Threshold):
    type: Literal["overall"]


class SliceCheck(_Threshold):
    type: Literal["slice"]
    where: str | None = None
    by: str | None = None

    @model_validator(mode="after")
    def _one_slice(self) -> SliceCheck:
        if (self.where is None) == (self.by is None):
            raise ValueError("give exactly one of where: (a boolean expression) or by: "
                             "(a column; every value is checked)")
        return self


class MaxGapCheck(_Check):
    type: Literal["max_gap"]
    metric: str
    attribute: str
    max_gap: Annotated[float, Field(ge=0)]

    @field_validator("metric")
    @classmethod
    def _metric_ok(cls, v: str) -> str:
        return _check_metric(v)


class MustGetRightCheck(_Check):
    type: Literal["must_get_right"]
    ids: list[str | int] | None = None
    where: str | None = None
    min_accuracy: Annotated[float, Field(ge=0, le=1)] = 1.0

    @model_validator(mode="after")
    def _one_set(self) -> MustGetRightCheck:
        if (self.ids is None) == (self.where is None):
            raise ValueError("give exactly one of ids: (a list) or where: (an expression)")
        return self


Check = Annotated[OverallCheck | SliceCheck | MaxGapCheck | MustGetRightCheck,
                  Field(discriminator="type")]
_CHECK_TYPES: dict[str, type[BaseModel]] = {
    "overall": OverallCheck, "slice": SliceCheck, "max_gap": MaxGapCheck,
    "must_get_right": MustGetRightCheck}


class AuditSpec(BaseModel):
    """The validated audit file."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    id_column: str = "id"
    pos_label: str | int | None = None
    min_support: Annotated[int, Field(ge=1)] = 30
    task: Literal["transcription", "ranking", "detection"] | None = None
    k: Annotated[int, Field(ge=1)] | None = None  # ranking cut-off (10 when not given)
    checks: Annotated[list[Check], Field(min_length=1)]

    def to_config(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _where(loc: tuple[Any, ...]) -> tuple[str, type[BaseModel]]:
    """``checks[1].metric`` from pydantic's location, and the model that owns the key."""
    parts: list[str] = []
    model: type[BaseModel] = AuditSpec
    for i, part in enumerate(loc):
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
        elif i > 0 and isinstance(loc[i - 1], int) and part in _CHECK_TYPES:
            model = _CHECK_TYPES[str(part)]  # the union member, not a key of the file
        else:
            parts.append(str(part))
    return ".".join(parts) or "(top level)", model


def _describe(err: Any) -> str:
    where, model = _where(tuple(err["loc"]))
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "union_tag_invalid":
        return f"{where}.type = {ctx.get('tag')!r} is not allowed; allowed: " \
               f"{ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"{where} has no 'type'; allowed: {', '.join(map(repr, _CHECK_TYPES))}"
    if kind == "extra_forbidden":
        return f"{where} is not a known key; allowed keys: " \
               f"{', '.join(k for k in model.model_fields if k != 'type')}"
    if kind == "missing":
        return f"{where} is missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where} = {value!r}: {msg}" if not isinstance(value, dict) else f"{where}: {msg}"


def parse_audit_spec(raw: Any, source: str = "audit spec") -> AuditSpec:
    """Validate a parsed audit file; errors name the key, the value and what is allowed."""
    if not isinstance(raw, dict):
        raise ValidationError(f"{source} must be a mapping with 'name' and 'checks'",
                              fix="see 'rampup audit --help' for an example")
    try:
        return AuditSpec.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = [_describe(e) for e in exc.errors()]
        raise ValidationError(f"{source}: " + "; ".join(problems),
                              fix="correct the audit file (see 'rampup audit --help')") from None


def load_audit_spec(path: str | Path) -> AuditSpec:
    p = Path(path)
    if not p.exists():
        raise ValidationError(f"audit file {p} does not exist", fix="check the path")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ValidationError(f"audit file {p} is not valid YAML: {exc}",
                              fix="fix the YAML syntax") from None
    return parse_audit_spec(raw, str(p))


# -- running ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckResult:
    name: str
    type: str
    passed: bool | None  # None: skipped (too few examples to judge)
    value: float | None
    threshold: float
    op: str  # ">=" or "<="
    n: int
    metric: str | None = None
    slice: str | None = None
    detail: str = ""


@dataclass
class AuditResult:
    name: str
    n: int
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed is not False for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.passed is False]

    def summary(self) -> dict[str, Any]:
        return {"passed": self.passed, "n": self.n, "checks": len(self.checks),
                "failed": self.failed,
                "skipped": [c.name for c in self.checks if c.passed is None]}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "n": self.n,
                "checks": [asdict(c) for c in self.checks]}


def _judge(value: float, op: str, threshold: float) -> bool:
    if np.isnan(value):
        return False
    return value >= threshold if op == ">=" else value <= threshold


class _Run:
    def __init__(self, spec: AuditSpec, data: pd.DataFrame, y_true: Any, y_pred: Any,
                 scores: Any) -> None:
        self.spec, self.data, self.y_true, self.y_pred, self.scores = (
            spec, data, y_true, y_pred, scores)

    def rows(self, metric: str, grouping: Grouping) -> list[SliceRow]:
        if self.spec.task is not None:
            from rampup.analysis.task_eval import task_slices
            from rampup.tasks.family import family

            fam = family(self.spec.task, k=self.spec.k or 10)
            if metric not in fam.metrics:
                raise ValidationError(f"{metric} is not a {fam.name} metric",
                                      fix=f"use one of: {', '.join(fam.metrics)}")
            return list(task_slices(fam, list(self.y_true), list(self.y_pred), [grouping],
                                    bootstrap=0).rows)
        table = slice_metrics(self.y_true, self.y_pred, grouping, (metric,),
                              scores=self.scores if metric in SCORE_METRICS else None,
                              pos_label=self.spec.pos_label)
        return list(table.rows)

    def column(self, name: str, what: str) -> pd.Series:
        if name not in self.data.columns:
            raise ValidationError(f"{what} {name!r} is not a column of the data",
                                  fix=f"use one of: {', '.join(map(str, self.data.columns))}")
        return self.data[name]

    def threshold(self, c: OverallCheck | SliceCheck, rows: list[SliceRow],
                  support: int) -> list[CheckResult]:
        op, bound = c.bound
        out = []
        for r in rows:
            base = c.name or f"{c.metric} {op} {bound:g}"
            label = None
            if isinstance(c, SliceCheck):
                label = r.slice if c.where is not None else f"{c.by}={r.slice}"
            name = base if label is None else f"{base} [{label}]"
            value = r.values[c.metric]
            if r.n == 0:
                res = CheckResult(name, c.type, False, None, bound, op, 0, c.metric, label,
                                  "no examples: the check cannot be evaluated")
            elif r.n < support:
                res = CheckResult(name, c.type, None, _num(value), bound, op, r.n, c.metric,
                                  label, f"skipped: {r.n} examples < min_support {support}")
            else:
                res = CheckResult(name, c.type, _judge(value, op, bound), _num(value), bound,
                                  op, r.n, c.metric, label,
                                  "metric undefined on these examples" if np.isnan(value)
                                  else "")
            out.append(res)
        return out

    def gap(self, c: MaxGapCheck, support: int) -> CheckResult:
        col = self.column(c.attribute, "attribute")
        rows = self.rows(c.metric, by_values(col, c.attribute))
        name = c.name or f"max gap of {c.metric} by {c.attribute} <= {c.max_gap:g}"
        judged = [r for r in rows if r.n >= support and not np.isnan(r.values[c.metric])]
        left_out = [r.slice for r in rows if r not in judged]
        note = f"; left out (n < {support} or undefined): {', '.join(left_out)}" \
            if left_out else ""
        if len(judged) < 2:
            return CheckResult(name, c.type, None, None, c.max_gap, "<=",
                               sum(r.n for r in judged), c.metric, None,
                               f"skipped: fewer than two groups to compare{note}")
        lo = min(judged, key=lambda r: r.values[c.metric])
        hi = max(judged, key=lambda r: r.values[c.metric])
        gap = hi.values[c.metric] - lo.values[c.metric]
        detail = (f"{c.attribute}={hi.slice}: {hi.values[c.metric]:.4g} (n={hi.n}), "
                  f"{c.attribute}={lo.slice}: {lo.values[c.metric]:.4g} (n={lo.n}){note}")
        return CheckResult(name, c.type, gap <= c.max_gap, float(gap), c.max_gap, "<=",
                           sum(r.n for r in judged), c.metric, None, detail)

    def must(self, c: MustGetRightCheck) -> CheckResult:
        name = c.name or ("must get right: " + (c.where or f"{len(c.ids or [])} ids"))
        if self.spec.task is not None:
            raise ValidationError(f"{name}: must_get_right needs class predictions, not "
                                  f"{self.spec.task} outputs",
                                  fix="use a slice check, e.g. {type: slice, metric: wer, "
                                      "where: ..., max: 0.1}")
        missing = 0
        if c.ids is not None:
            ids = self.column(self.spec.id_column, "id_column").astype(str)
            wanted = {str(i) for i in c.ids}
            mask = ids.isin(wanted).to_numpy()
            missing = len(wanted - set(ids[mask]))
        else:
            mask = by_expressions(self.data, [c.where or ""]).mask(0)
        wrong = errors_of(np.asarray(self.y_true)[mask], np.asarray(self.y_pred)[mask])
        n = int(mask.sum())
        acc = float(1 - wrong.mean()) if n else float("nan")
        detail = f"{int(wrong.sum())} wrong of {n}"
        if missing:
            detail += f"; {missing} of the ids are not in the data"
        if n == 0:
            detail = "no examples: the check cannot be evaluated"
        passed = n > 0 and missing == 0 and acc >= c.min_accuracy
        return CheckResult(name, c.type, passed, _num(acc), c.min_accuracy, ">=", n,
                           "accuracy", None, detail)


def run_audit(spec: AuditSpec, data: pd.DataFrame, y_true: Any, y_pred: Any, *,
              scores: Any = None) -> AuditResult:
    """Run every check of ``spec`` on labelled predictions (rows aligned with ``data``)."""
    if not len(data) == len(y_true) == len(y_pred):
        raise ValidationError(f"{len(data)} rows, {len(y_true)} labels and {len(y_pred)} "
                              "predictions differ in number", fix="pass one of each per row")
    run = _Run(spec, data, y_true, y_pred, scores)
    result = AuditResult(spec.name, len(data))
    for c in spec.checks:
        support = c.min_support or spec.min_support
        if isinstance(c, OverallCheck):
            rows = run.rows(c.metric, Grouping("overall", ("all",),
                                               codes=np.zeros(len(data), np.int64)))
            result.checks += run.threshold(c, rows, 1)
        elif isinstance(c, SliceCheck):
            grouping = (by_expressions(data, [c.where]) if c.where is not None else
                        by_values(run.column(c.by or "", "slice column"), c.by))
            result.checks += run.threshold(c, run.rows(c.metric, grouping), support)
        elif isinstance(c, MaxGapCheck):
            result.checks.append(run.gap(c, support))
        else:
            result.checks.append(run.must(c))
    return result


def _num(x: float) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


def audit_report(result: AuditResult, *, meta: dict[str, Any] | None = None) -> Report:
    """The result as a :class:`~rampup.analysis.report.Report` (``data``: ``to_dict()``)."""
    verdict = "PASSED" if result.passed else "FAILED"
    report = Report(f"Audit {result.name!r}: {verdict}", meta=dict(meta or {}),
                    data={"audit": result.to_dict()})
    status = {True: "pass", False: "FAIL", None: "skipped"}
    report.section("Checks").table(
        ["check", "result", "value", "threshold", "n", "detail"],
        [[c.name, status[c.passed], c.value, f"{c.op} {c.threshold:g}", c.n, c.detail]
         for c in result.checks])
    if result.failed:
        report.warnings.append(f"{len(result.failed)} check(s) failed: "
                               + ", ".join(result.failed))
    return report


# -- attaching to a model and the deployment gate ------------------------------------------

def attach_audit(store: Database, model: str, spec: AuditSpec) -> None:
    """Record ``spec`` on the model (``config["audit"]``): its deployments are now gated."""
    record = store.models.get_model(model)
    config = dict(record.config) if record is not None else {}
    config["audit"] = spec.to_config()
    store.models.ensure_model(model, config=config)


def save_audit_result(store: Database, model: str, version: str, result: AuditResult, *,
                      actor: str = "cli") -> int:
    """Keep the result with the version (kind ``audit``); returns the evaluation id."""
    return store.evaluations.add_evaluation(model, version, "audit", passed=result.passed,
                                            summary=result.summary(), result=result.to_dict(),
                                            name=result.name, actor=actor).id


def check_deploy_gate(store: Database, model: str, version: str, *, force: bool = False,
                      actor: str = "cli") -> None:
    """Refuse to deploy ``version`` when the model's attached audit failed or never ran.

    Does nothing for a model without an attached audit, or when the version's latest
    result of that audit passed. Otherwise raises :class:`~rampup.errors.ForbiddenError`,
    unless ``force``: then the bypass is recorded as an ``audit_gate_forced`` event and
    logged, and the deployment may go ahead.
    """
    record = store.models.get_model(model)
    attached = (record.config or {}).get("audit") if record is not None else None
    if not isinstance(attached, dict):
        return
    name = str(attached.get("name", ""))
    latest = next((e for e in store.evaluations.list_evaluations(model, version, kind="audit")
                   if e.name == name), None)
    if latest is not None and latest.passed:
        return
    if latest is None:
        reason, failed = "missing", []
        message = f"version {version!r} of model {model!r} has no result of its audit {name!r}"
        fix = (f"run 'rampup audit {model}@{version} --spec AUDIT.yaml --data DATA "
               "--label-column LABEL' first, or pass --force")
    else:
        reason = "failed"
        failed = list(latest.summary.get("failed") or [])
        when = datetime.fromtimestamp(latest.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        message = (f"version {version!r} of model {model!r} failed its audit {name!r} "
                   f"({when}): {', '.join(failed) or 'see the stored result'}")
        fix = "fix the model or pass --force"
    if not force:
        raise ForbiddenError(message, fix=fix, model=model, version=version, audit=name,
                             failed_checks=failed or None)
    log.warning("deploying despite the audit gate (forced by %s): %s", actor, message)
    store.events.add_event(actor, "audit_gate_forced", model=model, version=version,
                           details={"audit": name, "reason": reason, "failed_checks": failed,
                             "evaluation_id": latest.id if latest is not None else None})
