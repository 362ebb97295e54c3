"""What the project file (and the admin API) says about alerts: rules and notifiers.

Under each model, ``alerts:`` lists rules; at the top level, ``alerting:`` names the
notifiers rules refer to (``log`` always exists)::

    alerting:
      base_url: https://rampup.example.com     # links in notifications
      notifiers:
        oncall: {type: webhook, url: https://hooks.example.com/x, timeout: 5s, retries: 3}
        pager:  {type: command, command: ["/usr/local/bin/page", "--team", "risk"]}
    models:
      credit:
        alerts:
          - name: high-error-rate
            condition: error_rate > 0.05 for 5m
            window: 5m
            severity: critical
            notify: [log, oncall]
            actions: [rollback]
            cooldown: 30m

>>> r = AlertRuleSpec.model_validate({"name": "slow", "condition": "latency_p99 > 300 for 2m"})
>>> r.for_s, r.window_s, r.severity, r.notify
(120.0, 300.0, 'warning', ['log'])
>>> import pydantic
>>> try:
...     AlertRuleSpec.model_validate({"name": "x", "condition": "speed > 1"})
... except pydantic.ValidationError as exc:
...     print(exc.errors()[0]["msg"][:66])
Value error, unknown metric 'speed' in alert condition 'speed > 1'
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

from rampup.alerts.condition import Condition, parse_condition
from rampup.alerts.kinds import BUILTIN_ACTIONS
from rampup.durations import format_duration
from rampup.durations import validator_seconds as _seconds
from rampup.errors import ValidationError
from rampup.monitor.names import PROCESS_LEVELS

Severity = Literal["info", "warning", "critical"]
NoData = Literal["keep", "ok", "firing"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
RULE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
Duration = str | float


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AlertRuleSpec(_Spec):
    """One alert rule as written in ``rampup.yaml`` (or sent to the admin API)."""

    name: str = Field(description="unique per model; lowercase letters, digits, . _ -")
    condition: str = Field(description="METRIC OP NUMBER [for DURATION], when to alarm")
    window: Duration = Field(default="5m", description="span the metric is computed over")
    for_: Duration | None = Field(default=None, alias="for",
                                  description="how long the condition must hold to fire")
    severity: Severity = "warning"
    notify: list[str] = Field(default_factory=lambda: ["log"],
                              description="notifier names (alerting.notifiers, or log)")
    actions: list[str] = Field(default_factory=list,
                               description=f"on firing: {', '.join(BUILTIN_ACTIONS)}")
    cooldown: Duration = Field(default="30m",
                               description="re-notify a firing alert at most this often")
    version: str | None = Field(default=None, description="only this version's metric")
    role: str = Field(default="answer", description="answer, shadow or canary")
    stage: str | None = Field(default=None, description="a pipeline stage")
    no_data: NoData = Field(default="keep",
                            description="without data: keep the state, or treat as ok/firing")
    labels: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not RULE_NAME.fullmatch(v):
            raise ValueError(f"invalid rule name {v!r}: use lowercase letters, digits, '.', "
                             "'_' or '-' (at most 63)")
        return v

    @field_validator("condition")
    @classmethod
    def _condition(cls, v: str) -> str:
        try:
            parse_condition(v)
        except ValidationError as exc:
            raise ValueError(f"{exc.message}; {exc.fix}") from None
        return v

    @field_validator("window", "cooldown", "for_")
    @classmethod
    def _duration(cls, v: Duration | None, info: ValidationInfo) -> Duration | None:
        if v is not None:
            _seconds(v, (info.field_name or "duration").rstrip("_"))
        return v

    @field_validator("actions")
    @classmethod
    def _actions(cls, v: list[str]) -> list[str]:
        unknown = [a for a in v if a not in BUILTIN_ACTIONS]
        if unknown:
            raise ValueError(f"unknown action(s) {', '.join(unknown)}; actions: "
                             f"{', '.join(BUILTIN_ACTIONS)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> AlertRuleSpec:
        _, inline = parse_condition(self.condition)
        if inline is not None and self.for_ is not None and inline != _seconds(self.for_, "for"):
            raise ValueError(f"the condition says 'for {format_duration(inline)}' but 'for' is "
                             f"{self.for_!r}; give the duration once")
        if self.window_s <= 0:
            raise ValueError("window must be longer than 0 s")
        metric = self.parsed.metric
        if self.version is not None and metric in PROCESS_LEVELS:
            raise ValueError(f"{metric} is a level of the serving processes (shared by every "
                             f"version they serve), not of version {self.version!r}: drop "
                             "'version', or alert on model_cpu_ms (CPU time per model call "
                             "of that version)")
        return self

    @property
    def parsed(self) -> Condition:
        return parse_condition(self.condition)[0]

    @property
    def window_s(self) -> float:
        return _seconds(self.window, "window")

    @property
    def for_s(self) -> float:
        inline = parse_condition(self.condition)[1]
        if inline is not None:
            return inline
        return 0.0 if self.for_ is None else _seconds(self.for_, "for")

    @property
    def cooldown_s(self) -> float:
        return _seconds(self.cooldown)

    def to_yaml_dict(self) -> dict[str, Any]:
        """The rule as it would be written in rampup.yaml (defaults left out)."""
        return self.model_dump(by_alias=True, exclude_defaults=True, mode="json") | {
            "name": self.name, "condition": self.condition}


class NotifierSpec(_Spec):
    """A named notifier: ``log``, ``webhook`` (JSON POST) or ``command`` (JSON on stdin)."""

    type: Literal["log", "webhook", "command"]
    url: str | None = Field(default=None, description="webhook: where to POST")
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="webhook: extra headers (${VAR} expanded)")
    command: list[str] | str | None = Field(default=None,
                                            description="command: argv (or one string)")
    env: dict[str, str] = Field(default_factory=dict, description="command: extra env")
    timeout: Duration = Field(default="5s", description="per attempt")
    retries: int = Field(default=3, ge=0, le=10, description="webhook: retries after a failure")
    backoff: Duration = Field(default="0.5s", description="webhook: first retry delay")

    @field_validator("timeout", "backoff")
    @classmethod
    def _duration(cls, v: Duration, info: ValidationInfo) -> Duration:
        _seconds(v, (info.field_name or "duration").rstrip("_"))
        return v

    @model_validator(mode="after")
    def _required(self) -> NotifierSpec:
        if self.type == "webhook" and not self.url:
            raise ValueError("a webhook notifier needs 'url'")
        if self.type == "webhook" and not re.match(r"^https?://", self.url or ""):
            raise ValueError(f"webhook url {self.url!r} must start with http:// or https://")
        if self.type == "command" and not self.command:
            raise ValueError("a command notifier needs 'command' (a list of arguments)")
        if _seconds(self.timeout) <= 0:
            raise ValueError("timeout must be longer than 0 s")
        return self

    @property
    def timeout_s(self) -> float:
        return _seconds(self.timeout)

    @property
    def backoff_s(self) -> float:
        return _seconds(self.backoff)


class AlertingSpec(_Spec):
    """Project-wide alerting: named notifiers and the base URL of links in notifications."""

    notifiers: dict[str, NotifierSpec] = Field(default_factory=dict)
    base_url: str | None = Field(default=None,
                                 description="public URL of the server, for links")
    notify_workers: int = Field(default=4, ge=1, le=64,
                                description="threads sending notifications")

    @field_validator("notifiers")
    @classmethod
    def _names(cls, v: dict[str, NotifierSpec]) -> dict[str, NotifierSpec]:
        for name in v:
            if not RULE_NAME.fullmatch(name):
                raise ValueError(f"invalid notifier name {name!r}")
        return v

    def known_notifiers(self) -> list[str]:
        return sorted({"log", *self.notifiers})
