"""An alert rule ready to evaluate: a model, a parsed condition, durations in seconds.

>>> rule = AlertRule.from_spec("credit", AlertRuleSpec(name="errors",
...                            condition="error_rate > 0.05 for 1m", cooldown="10m"))
>>> rule.key, rule.condition.text, rule.for_s, rule.cooldown_s, rule.source
('credit/errors', 'error_rate > 0.05', 60.0, 600.0, 'project')
>>> AlertRule.from_row(rule.to_row()) == rule
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rampup.alerts.condition import Condition
from rampup.alerts.spec import AlertRuleSpec, NoData, Severity

Source = Literal["project", "runtime"]


@dataclass(frozen=True)
class AlertRule:
    model: str
    spec: AlertRuleSpec
    source: Source = "project"
    enabled: bool = True
    condition: Condition = field(init=False, compare=False)
    for_s: float = field(init=False, compare=False)
    window_s: float = field(init=False, compare=False)
    cooldown_s: float = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "condition", self.spec.parsed)
        object.__setattr__(self, "for_s", self.spec.for_s)
        object.__setattr__(self, "window_s", self.spec.window_s)
        object.__setattr__(self, "cooldown_s", self.spec.cooldown_s)

    @classmethod
    def from_spec(cls, model: str, spec: AlertRuleSpec, source: Source = "project",
                  enabled: bool | None = None) -> AlertRule:
        return cls(model, spec, source, spec.enabled if enabled is None else enabled)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AlertRule:
        """From an ``alert_rules`` row (``model``, ``spec``, ``source``, ``enabled``)."""
        return cls(row["model"], AlertRuleSpec.model_validate(row["spec"]), row["source"],
                   bool(row["enabled"]))

    def to_row(self) -> dict[str, Any]:
        return {"model": self.model, "name": self.name, "source": self.source,
                "enabled": self.enabled, "spec": self.spec.model_dump(by_alias=True,
                                                                      mode="json")}

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def key(self) -> str:
        return f"{self.model}/{self.name}"

    @property
    def severity(self) -> Severity:
        return self.spec.severity

    @property
    def no_data(self) -> NoData:
        return self.spec.no_data

    @property
    def metric(self) -> str:
        return self.condition.metric

    def scope(self) -> str:
        """Which traffic the metric covers, e.g. ``v2, shadow`` (empty: all answers)."""
        parts = [p for p in (self.spec.version, None if self.spec.role == "answer"
                             else self.spec.role,
                             f"stage {self.spec.stage}" if self.spec.stage else None) if p]
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "name": self.name, "source": self.source,
                "enabled": self.enabled, "condition": self.condition.text,
                "metric": self.metric, "op": self.condition.op,
                "threshold": self.condition.threshold, "window_s": self.window_s,
                "for_s": self.for_s, "cooldown_s": self.cooldown_s,
                "severity": self.severity, "notify": list(self.spec.notify),
                "actions": list(self.spec.actions), "version": self.spec.version,
                "role": self.spec.role, "stage": self.spec.stage, "no_data": self.no_data,
                "labels": dict(self.spec.labels), "description": self.spec.description,
                "spec": self.spec.to_yaml_dict()}
