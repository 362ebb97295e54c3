"""The ``automation:`` section of a model in ``rampup.yaml``.

>>> s = AutomationSpec.model_validate({"level": "partial", "threshold": 0.9,
...                                    "class_thresholds": {"1": 0.95}})
>>> s.threshold_for(1), s.threshold_for(0)
(0.95, 0.9)
>>> s.allowed_labels()
>>> AutomationSpec(labels=["ok", "bad"]).allowed_labels()
['ok', 'bad', 'uncertain']
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Level = Literal["human_only", "shadow", "ai_assist", "partial", "full"]
LEVELS: tuple[str, ...] = ("human_only", "shadow", "ai_assist", "partial", "full")
ConfidenceMethod = Literal["max_probability", "calibrated", "function"]
IMPORT_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class AutomationSpec(BaseModel):
    """How far the model decides alone, and how the review queue works for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Level = Field(default="full", description="human_only, shadow, ai_assist, partial "
                         "or full (the CLI/admin API can override it at run time)")
    threshold: float = Field(default=0.8, ge=0, le=1, description="partial: confidence at or "
                             "above which the model decides")
    class_thresholds: dict[str, float] = Field(
        default_factory=dict, description="per predicted class (as text) threshold overrides")
    audit_rate: float = Field(default=0.0, ge=0, le=1, description="partial/full: share of "
                              "model decisions also sent to review as an audit sample")
    reviewers_per_item: int = Field(default=1, ge=1, le=20)
    claim_ttl: float = Field(default=300.0, gt=0, le=86_400,
                             description="seconds a reviewer's claim on an item lasts")
    labels: list[str | int | bool] = Field(
        default_factory=list, description="labels a reviewer may give (default: the "
        "version's classes; free-form for models without classes)")
    uncertain_label: str | None = Field(default="uncertain", description="the explicit "
                                        "'uncertain/unintelligible' label (null: none)")
    confidence: ConfidenceMethod = "max_probability"
    confidence_function: str | None = Field(
        default=None, description="'module:function' (record, output) -> confidence, for "
        "confidence: function (e.g. a regression model's own uncertainty)")
    seed: int = Field(default=0, description="seed of the audit sampling")

    @model_validator(mode="after")
    def _check(self) -> AutomationSpec:
        for cls, th in self.class_thresholds.items():
            if not 0 <= th <= 1:
                raise ValueError(f"class_thresholds[{cls!r}] = {th}: use a number in [0, 1]")
        if self.confidence == "function" and not self.confidence_function:
            raise ValueError("confidence: function needs confidence_function: "
                             "'module:function'")
        if self.confidence_function and not IMPORT_RE.fullmatch(self.confidence_function):
            raise ValueError(f"confidence_function {self.confidence_function!r} is not "
                             "'module:function'")
        return self

    def threshold_for(self, prediction: Any) -> float:
        """The confidence threshold for a predicted class (per class, else the default)."""
        if self.class_thresholds:
            key = str(prediction).lower() if isinstance(prediction, bool) else str(prediction)
            return self.class_thresholds.get(key, self.threshold)
        return self.threshold

    def allowed_labels(self) -> list[Any] | None:
        """The configured labels plus the uncertain label; None when not configured."""
        if not self.labels:
            return None
        extra = [self.uncertain_label] if self.uncertain_label and \
            self.uncertain_label not in self.labels else []
        return [*self.labels, *extra]
