"""The alert-rule API: list, add, remove, enable, disable, state, history, test, sync.

The CLI, the admin HTTP API and Python callers all go through :class:`Alerts`. Rules
from the project file are re-synced (``source='project'``); rules added at run time
(``source='runtime'``) are kept across syncs and restarts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

from rampup.alerts.available import check_available
from rampup.alerts.kinds import KINDS
from rampup.alerts.machine import AlertState, describe
from rampup.alerts.rules import AlertRule
from rampup.alerts.spec import AlertingSpec, AlertRuleSpec
from rampup.errors import ConflictError, NotFoundError, ValidationError
from rampup.monitor.names import MetricSource
from rampup.project import ProjectFile
from rampup.store import Database
from rampup.store.alerts import RuleSync


@dataclass(frozen=True)
class RuleStatus:
    rule: AlertRule
    state: AlertState

    def to_dict(self) -> dict[str, Any]:
        s = self.state
        return {**self.rule.to_dict(), "state": s.state, "since": s.since, "value": s.value,
                "no_data": s.no_data, "started_at": s.started_at,
                "resolved_at": s.resolved_at, "evaluated_at": s.evaluated_at,
                "last_notified_at": s.last_notified_at}


@dataclass(frozen=True)
class TestResult:
    rule: AlertRule
    value: float | None
    breached: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule.name, "model": self.rule.model,
                "condition": self.rule.condition.text, "value": self.value,
                "breached": self.breached, "message": self.message}


def parse_rule_spec(data: Mapping[str, Any] | AlertRuleSpec, where: str = "alert rule"
                    ) -> AlertRuleSpec:
    """Validate a rule given as a mapping; errors name each key and what is allowed."""
    if isinstance(data, AlertRuleSpec):
        return data
    try:
        return AlertRuleSpec.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'rule'}: {e['msg']}"
                             for e in exc.errors())
        raise ValidationError(f"{where} is invalid: {problems}",
                              fix="see 'rampup alerts add --help' for the rule format") from None


def check_notifiers(spec: AlertRuleSpec, alerting: AlertingSpec, where: str) -> None:
    known = alerting.known_notifiers()
    unknown = [n for n in spec.notify if n not in known]
    if unknown:
        raise ValidationError(
            f"{where}: unknown notifier(s) {', '.join(unknown)} (known: {', '.join(known)})",
            fix="declare them under alerting.notifiers in rampup.yaml, or use 'log'")


class Alerts:
    def __init__(self, store: Database, *, alerting: AlertingSpec | None = None,
                 clock: Callable[[], float] = time.time,
                 project: ProjectFile | None = None) -> None:
        self.store = store
        self.alerting = alerting or AlertingSpec()
        self.clock = clock
        self.project = project

    def _check_metric(self, model: str, spec: AlertRuleSpec, where: str,
                      project: ProjectFile | None = None) -> None:
        """Refuse a rule on a metric no source computes for this model (a pipeline
        stage's metrics are its stage model's, checked there)."""
        if spec.stage is not None:
            return
        project = project or self.project
        custom = None
        if project is not None:
            model_spec = project.models.get(model)
            custom = list(model_spec.input_metrics) if model_spec is not None else []
        check_available(self.store, model, spec.parsed.metric, where=where, custom=custom)

    # -- project file -------------------------------------------------------------------

    def sync_project(self, project: ProjectFile) -> RuleSync:
        """Make the store's project rules match the project file (runtime rules stay)."""
        wanted: dict[str, list[tuple[str, dict[str, Any], bool]]] = {}
        for model, spec in project.models.items():
            names: set[str] = set()
            for rule in spec.alerts:
                where = f"models.{model}.alerts[{rule.name}]"
                if rule.name in names:
                    raise ValidationError(f"{where}: the rule name is used twice",
                                          fix="give each rule of a model its own name")
                names.add(rule.name)
                check_notifiers(rule, project.alerting, where)
                self._check_metric(model, rule, where, project)
                wanted.setdefault(model, []).append(
                    (rule.name, rule.model_dump(by_alias=True, mode="json"), rule.enabled))
        return self.store.alerts.sync_alert_rules(wanted)

    # -- reading ------------------------------------------------------------------------

    def rules(self, model: str | None = None, *, enabled_only: bool = False
              ) -> list[AlertRule]:
        return [AlertRule.from_row(r)
                for r in self.store.alerts.list_alert_rules(model, enabled_only=enabled_only)]

    def get(self, model: str, name: str) -> AlertRule:
        row = self.store.alerts.get_alert_rule(model, name)
        if row is None:
            known = ", ".join(r.name for r in self.rules(model)) or "none"
            raise NotFoundError(f"{model} has no alert rule {name!r} (rules: {known})",
                                fix=f"list them with: rampup alerts list {model}")
        return AlertRule.from_row(row)

    def status(self, model: str | None = None) -> list[RuleStatus]:
        states = self.store.alerts.alert_states(model)
        return [RuleStatus(r, AlertState.from_dict(states.get((r.model, r.name))))
                for r in self.rules(model)]

    def history(self, model: str, rule: str | None = None, *, since: float | None = None,
                kinds: Sequence[str] | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first."""
        bad = [k for k in kinds or () if k not in KINDS]
        if bad:
            raise ValidationError(f"unknown history kind(s) {', '.join(bad)}",
                                  fix=f"kinds: {', '.join(KINDS)}")
        if rule is not None:
            self._known_or_historic(model, rule)
        return self.store.alerts.list_alert_events(model, rule, since=since, kinds=kinds,
                                                   limit=limit)

    # -- changing -----------------------------------------------------------------------

    def add(self, model: str, spec: Mapping[str, Any] | AlertRuleSpec, *, actor: str = "cli",
            replace: bool = False) -> AlertRule:
        """Add a runtime rule (kept across restarts and project syncs)."""
        rule_spec = parse_rule_spec(spec)
        if self.store.models.get_model(model) is None:
            known = ", ".join(m.name for m in self.store.models.list_models()) or "none"
            raise NotFoundError(f"model {model!r} does not exist (known: {known})",
                                fix="check the name or register a version first")
        check_notifiers(rule_spec, self.alerting, f"alert rule {rule_spec.name}")
        self._check_metric(model, rule_spec, f"alert rule {rule_spec.name}")
        rule = AlertRule.from_spec(model, rule_spec, "runtime")
        self.store.alerts.add_alert_rule(model, rule.name, rule.to_row()["spec"], source="runtime",
                                         enabled=rule.enabled, actor=actor, replace=replace)
        self.store.events.add_event(actor, "alert_rule_added", model=model,
                                    details={"rule": rule.name, "spec": rule_spec.to_yaml_dict(),
                                      "replace": replace})
        return rule

    def remove(self, model: str, name: str, *, actor: str = "cli") -> AlertRule:
        rule = self.get(model, name)
        if rule.source == "project":
            raise ConflictError(f"alert rule {model}/{name} comes from the project file; it "
                                "would come back on the next start",
                                fix=f"delete it from rampup.yaml, or disable it: "
                                    f"rampup alerts disable {model} {name}")
        self.store.alerts.delete_alert_rule(model, name)
        self.store.events.add_event(actor, "alert_rule_removed", model=model,
                                    details={"rule": name})
        return rule

    def set_enabled(self, model: str, name: str, enabled: bool, *,
                    actor: str = "cli") -> AlertRule:
        rule = self.get(model, name)
        self.store.alerts.set_alert_rule_enabled(model, name, enabled, actor)
        if not enabled:  # a disabled rule is quiet: it starts from ok when enabled again
            self.store.alerts.save_alert_states([(model, name, "ok", self.clock(),
                                                  AlertState("ok", self.clock()).to_dict())])
        self.store.events.add_event(actor,
                                    "alert_rule_enabled" if enabled else "alert_rule_disabled",
                             model=model, details={"rule": name})
        return AlertRule(rule.model, rule.spec, rule.source, enabled)

    # -- trying -------------------------------------------------------------------------

    def test(self, model: str, rule: str | Mapping[str, Any] | AlertRuleSpec,
             source: MetricSource, *, now: float | None = None) -> TestResult:
        """Measure a rule's metric now and say whether it would alarm (no state change)."""
        r = self.get(model, rule) if isinstance(rule, str) else \
            AlertRule.from_spec(model, parse_rule_spec(rule), "runtime")
        when = self.clock() if now is None else now
        value = source.value(model, r.metric, version=r.spec.version, role=r.spec.role,
                             stage=r.spec.stage, window_s=r.window_s, now=when)
        breached = value is not None and r.condition.breached(value)
        return TestResult(r, value, breached, describe(r, value))

    def _known_or_historic(self, model: str, rule: str) -> None:
        if self.store.alerts.get_alert_rule(model, rule) is not None:
            return
        if self.store.alerts.list_alert_events(model, rule, limit=1):
            return
        self.get(model, rule)  # raises NotFoundError listing the rules
