"""Pipelines in the project file: a model made of stages, each a registered model.

Pure: the ``pipeline`` block of a model (:class:`PipelineSpec`), its validation against
the other models of the project, the ``stop_when`` expressions and the ``inputs``
references a stage reads. Serving them lives in :mod:`rampup.serving.pipeline`.

.. code-block:: yaml

    models:
      vad: {versions: {v1: {artifact: "acme.vad:Vad"}}}
      asr: {versions: {v1: {artifact: "acme.asr:Asr"}}}
      transcribe:
        pipeline:
          stages:
            - model: vad                            # stage name: the model's, or `name:`
              stop_when: "label == 'no_speech'"     # ends the record early with this output
            - model: asr
              inputs: {audio_len: input.audio_len, speech_ratio: vad.speech_ratio}

``stop_when`` is a small expression over the stage's output item: ``prediction`` (alias
``label``), ``confidence``, ``probabilities``, any key of a mapping prediction, and
``input`` (the request record); comparisons, ``and``/``or``/``not``, ``in`` with a
literal list, arithmetic and constants. ``inputs`` maps a feature of the stage to
``input.FIELD`` (the request record) or ``STAGE.FIELD`` (an earlier stage's output, read
like a ``stop_when`` name, ``STAGE.probabilities.speech`` going into mappings); features
not mapped are taken from the request record.

>>> expr = compile_stop("label == 'no_speech' or confidence < 0.2")
>>> expr.evaluate({"prediction": "no_speech", "confidence": 0.9}, {})
True
>>> expr.evaluate({"prediction": "speech", "confidence": 0.9}, {})
False
>>> read_field({"prediction": {"speech_ratio": 0.4}}, "speech_ratio")
0.4
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rampup.errors import ConfigError, ModelError

STAGE_TAG_MAX = 63  # the store's stage column
INPUT = "input"
ALIASES = {"label": "prediction"}
STAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class PipelineError(ModelError):
    """A pipeline could not run one of its stages (answered with a 5xx naming the stage)."""

    code = "pipeline_error"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageSpec(_Strict):
    """One stage: a registered model, served through its own deployment and router."""

    model: str = Field(description="a model of this project (not itself a pipeline)")
    name: str | None = Field(default=None, description="stage name; default: the model's")
    stop_when: str | None = Field(default=None, description="expression over the stage's "
                                  "output; true ends the record here with this output")
    inputs: dict[str, str] | None = Field(default=None, description="feature -> "
                                          "input.FIELD or STAGE.FIELD")

    @property
    def stage(self) -> str:
        return self.name or self.model

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not STAGE_NAME.fullmatch(v):
            raise ValueError(f"stage name {v!r}: use lowercase letters, digits, '.', '_' or "
                             "'-', starting with a letter or digit")
        return v

    @field_validator("stop_when")
    @classmethod
    def _stop(cls, v: str | None) -> str | None:
        if v is not None:
            compile_stop(v)  # raises ValueError naming what is not allowed
        return v


class PipelineSpec(_Strict):
    """The ``pipeline`` block of a model: stages run in order."""

    stages: list[StageSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> PipelineSpec:
        seen: list[str] = []
        for s in self.stages:
            if s.stage in seen:
                raise ValueError(f"stage name {s.stage!r} is used twice; give one a 'name'")
            if s.stage == INPUT:
                raise ValueError(f"stage name {INPUT!r} is reserved (it names the request)")
            for feature, ref in (s.inputs or {}).items():
                source, _, field = ref.partition(".")
                if not field:
                    raise ValueError(f"stage {s.stage!r} inputs.{feature} = {ref!r}: use "
                                     "input.FIELD or STAGE.FIELD")
                if source != INPUT and source not in seen:
                    raise ValueError(
                        f"stage {s.stage!r} inputs.{feature} = {ref!r}: {source!r} is not an "
                        f"earlier stage (earlier: {', '.join([INPUT, *seen])})")
            seen.append(s.stage)
        return self

    def names(self) -> list[str]:
        return [s.stage for s in self.stages]


def stage_tag(pipeline: str, stage: str) -> str:
    """The ``stage`` column of a stage's prediction rows and monitor windows.

    >>> stage_tag("transcribe", "vad")
    'transcribe/vad'
    """
    return f"{pipeline}/{stage}"


def check_pipelines(pipelines: Mapping[str, PipelineSpec], models: Mapping[str, Any]) -> None:
    """Cross-model checks: every stage names a model of the project that is not itself a
    pipeline (so there are no cycles), every stage tag fits the store, and the
    pipeline's alert rules name its stages."""
    for name, spec in pipelines.items():
        for rule in getattr(models.get(name), "alerts", []):
            if rule.stage is not None and rule.stage not in spec.names():
                where = f"models.{name}.alerts[{rule.name}].stage"
                raise ConfigError(f"{where}: {rule.stage!r} is not a stage of {name!r} "
                                  f"(stages: {', '.join(spec.names())})",
                                  fix="name one of its stages", field=where)
        for s in spec.stages:
            where = f"models.{name}.pipeline.stages[{s.stage}]"
            if s.model == name or (s.model in pipelines and name in
                                   [t.model for t in pipelines[s.model].stages]):
                raise ConfigError(f"{where}: pipeline {name!r} reaches itself through stage "
                                  f"model {s.model!r} (a cycle)",
                                  fix="stages must be plain models", field=where)
            if s.model not in models:
                raise ConfigError(f"{where}: unknown model {s.model!r} (models: "
                                  f"{', '.join(sorted(m for m in models if m != name))})",
                                  fix="declare the stage model under 'models' too",
                                  field=where)
            if s.model in pipelines:
                raise ConfigError(f"{where}: model {s.model!r} is itself a pipeline",
                                  fix="list its stages in this pipeline instead", field=where)
            if len(stage_tag(name, s.stage)) > STAGE_TAG_MAX:
                raise ConfigError(f"{where}: '{stage_tag(name, s.stage)}' is longer than "
                                  f"{STAGE_TAG_MAX} characters", fix="use a shorter name",
                                  field=where)


# -- reading outputs ---------------------------------------------------------------------

_MISSING = object()


def read_field(item: Mapping[str, Any], name: str) -> Any:
    """A name read from a stage's output item: the item's own keys (``prediction``,
    ``confidence``, ``probabilities``; ``label`` is ``prediction``), else a key of a
    mapping prediction; None when absent."""
    key = ALIASES.get(name, name)
    if key in item:
        return item[key]
    pred = item.get("prediction")
    if isinstance(pred, Mapping):
        return pred.get(name)
    return None


def read_path(item: Mapping[str, Any], path: str) -> Any:
    """``FIELD`` or ``FIELD.KEY...`` of a stage's output item (see :func:`read_field`).

    >>> read_path({"probabilities": {"speech": 0.7}}, "probabilities.speech")
    0.7
    """
    first, *rest = path.split(".")
    value = read_field(item, first)
    for key in rest:
        value = _get(value, key)
    return value


# -- stop_when expressions ----------------------------------------------------------------

_CMP: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_BIN: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Mod: operator.mod,
}
_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
            ast.Compare, ast.Name, ast.Load, ast.Constant, ast.Attribute, ast.Subscript,
            ast.List, ast.Tuple, ast.BinOp, *_CMP, *_BIN)


@dataclass(frozen=True)
class StopExpr:
    """A compiled ``stop_when``; :meth:`evaluate` is true when the record stops here."""

    text: str
    tree: ast.Expression

    def evaluate(self, item: Mapping[str, Any], record: Any) -> bool:
        try:
            return bool(_eval(self.tree.body, item, record))
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise PipelineError(f"stop_when {self.text!r} failed on output {dict(item)!r}: "
                                f"{exc}"[:500], fix="guard the expression (e.g. "
                                "'confidence is not None and confidence < 0.2')") from None


def compile_stop(text: str) -> StopExpr:
    """Parse and check a ``stop_when`` expression (ValueError naming the problem)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"stop_when {text!r} is not an expression: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"stop_when {text!r}: {type(node).__name__} is not allowed "
                             "(use comparisons, and/or/not, in, arithmetic and constants)")
        if isinstance(node, ast.Attribute | ast.Subscript) and not isinstance(
                node.value, ast.Name | ast.Attribute | ast.Subscript):
            raise ValueError(f"stop_when {text!r}: read fields of names only")
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Constant):
            raise ValueError(f"stop_when {text!r}: index with a constant only")
    return StopExpr(text, tree)


def _eval(node: ast.expr, item: Mapping[str, Any], record: Any) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return record if node.id == INPUT else read_field(item, node.id)
    if isinstance(node, ast.Attribute):
        return _get(_eval(node.value, item, record), node.attr)
    if isinstance(node, ast.Subscript):
        assert isinstance(node.slice, ast.Constant)  # checked by compile_stop
        return _get(_eval(node.value, item, record), node.slice.value)
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, item, record) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, item, record)
        return (not v) if isinstance(node.op, ast.Not) else -v
    if isinstance(node, ast.BinOp):
        return _BIN[type(node.op)](_eval(node.left, item, record),
                                   _eval(node.right, item, record))
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, item, record) for e in node.elts]
    assert isinstance(node, ast.Compare)  # the only node left (checked by compile_stop)
    left = _eval(node.left, item, record)
    for op, comp in zip(node.ops, node.comparators, strict=True):
        right = _eval(comp, item, record)
        if not _CMP[type(op)](left, right):
            return False
        left = right
    return True


def _get(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        return value.get(key)
    if isinstance(value, list | tuple) and isinstance(key, int) and -len(value) <= key < len(
            value):
        return value[key]
    return None
