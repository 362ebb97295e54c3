"""Input schemas: feature names, types, allowed categories, nullability.

A schema is plain data (stored as JSON with the version). Validation of requests
against it lives in :mod:`rampup.serving.validation`.

>>> s = InputSchema(features=[Feature("age", "int"), Feature("city", "str", nullable=True)])
>>> s.names
['age', 'city']
>>> InputSchema.from_dict(s.to_dict()) == s
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

DType = Literal["float", "int", "bool", "str", "image", "audio", "text", "tensor", "embedding"]
DTYPES: tuple[str, ...] = ("float", "int", "bool", "str", "image", "audio", "text", "tensor",
                           "embedding")
#: dtypes of unstructured inputs (see rampup.inputs): decoded and checked by their own
#: validators, monitored through their input metrics (``photo.brightness`` ...).
MEDIA_DTYPES: tuple[str, ...] = ("image", "audio", "text", "tensor", "embedding")


@dataclass(frozen=True)
class Feature:
    """One input feature.

    ``categories`` lists the values seen or declared; with ``strict_categories`` other
    values are rejected, otherwise they pass (and are counted as unseen by monitoring).
    """

    name: str
    dtype: DType = "float"
    nullable: bool = False
    categories: tuple[str, ...] | None = None
    strict_categories: bool = False
    min_length: int | None = None
    max_length: int | None = None
    shape: tuple[int | None, ...] | None = None
    element: str | None = None
    length: int | None = None
    max_bytes: int | None = None
    max_pixels: int | None = None
    max_seconds: float | None = None
    sample_rates: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["categories"] = list(self.categories) if self.categories is not None else None
        for key in ("shape", "sample_rates"):
            d[key] = list(d[key]) if d[key] is not None else None
        return {k: v for k, v in d.items() if v not in (None, False) or k == "nullable"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Feature:
        cats = d.get("categories")
        return cls(
            name=d["name"],
            dtype=d.get("dtype", "float"),
            nullable=bool(d.get("nullable", False)),
            categories=tuple(str(c) for c in cats) if cats is not None else None,
            strict_categories=bool(d.get("strict_categories", False)),
            min_length=d.get("min_length"),
            max_length=d.get("max_length"),
            shape=tuple(d["shape"]) if d.get("shape") is not None else None,
            element=d.get("element"),
            length=d.get("length"),
            max_bytes=d.get("max_bytes"),
            max_pixels=d.get("max_pixels"),
            max_seconds=d.get("max_seconds"),
            sample_rates=tuple(int(r) for r in d["sample_rates"])
            if d.get("sample_rates") is not None else None,
        )


@dataclass(frozen=True)
class InputSchema:
    """The features a version expects. ``allow_extra``: unknown keys are ignored, not errors.

    An empty feature list with ``allow_extra`` means "any JSON object" (free-form models).
    """

    features: list[Feature] = field(default_factory=list)
    allow_extra: bool = False

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def free_form(self) -> bool:
        return not self.features and self.allow_extra

    def feature(self, name: str) -> Feature | None:
        for f in self.features:
            if f.name == name:
                return f
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"features": [f.to_dict() for f in self.features], "allow_extra": self.allow_extra}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSchema:
        return cls(features=[Feature.from_dict(f) for f in d.get("features", [])],
                   allow_extra=bool(d.get("allow_extra", False)))

    @classmethod
    def any(cls) -> InputSchema:
        return cls(features=[], allow_extra=True)


OutputKind = Literal["class", "number", "free"]


@dataclass(frozen=True)
class OutputSpec:
    """What a version returns: class labels (+ probabilities), a number, or free-form JSON.

    ``task`` names the metric family of a free-form output (``transcription``: text,
    ``ranking``: ranked ids, ``detection``: boxes; see :mod:`rampup.tasks`), so
    evaluation, rollout checks and monitoring score it with WER, MRR, mAP ...
    """

    kind: OutputKind = "free"
    classes: tuple[Any, ...] | None = None
    has_probabilities: bool = False
    task: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind,
                             "classes": list(self.classes) if self.classes is not None
                             else None,
                             "has_probabilities": self.has_probabilities}
        if self.task is not None:
            d["task"] = self.task
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OutputSpec:
        classes = d.get("classes")
        return cls(kind=d.get("kind", "free"),
                   classes=tuple(classes) if classes is not None else None,
                   has_probabilities=bool(d.get("has_probabilities", False)),
                   task=d.get("task"))
