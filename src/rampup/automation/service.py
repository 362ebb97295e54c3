"""Automation operations shared by the CLI and the HTTP API: level get/set (recorded in
the event history), metrics, reviewer consistency, advice and calibration."""

from __future__ import annotations

from typing import Any

import orjson

from rampup.automation.advise import Advice, advise
from rampup.automation.confidence import Calibrator, fit_calibrator
from rampup.automation.queue import ReviewQueue
from rampup.automation.report import automation_metrics, consistency
from rampup.automation.spec import LEVELS, AutomationSpec
from rampup.errors import NotFoundError, ValidationError
from rampup.project import ProjectFile
from rampup.store import Database

LEVEL_EVENT = "automation_level"
_DEFAULT = AutomationSpec()


class Automation:
    def __init__(self, store: Database, project: ProjectFile | None = None) -> None:
        self.store = store
        self.project = project or ProjectFile()

    def spec(self, model: str) -> AutomationSpec:
        m = self.project.models.get(model)
        return m.automation if m is not None else _DEFAULT

    def queue(self) -> ReviewQueue:
        return ReviewQueue(self.store, self.spec)

    # -- level ----------------------------------------------------------------------------

    def level(self, model: str) -> dict[str, Any]:
        override = self.store.automation.automation_levels().get(model)
        if override is not None:
            return {"model": model, "level": override["level"], "source": "runtime",
                    "project_level": self.spec(model).level, **{
                        k: override[k] for k in ("updated_at", "actor", "reason")}}
        return {"model": model, "level": self.spec(model).level, "source": "project",
                "project_level": self.spec(model).level}

    def set_level(self, model: str, level: str, *, actor: str, reason: str = "",
                  now: float) -> dict[str, Any]:
        """Override the project file's level at run time (every replica within ~1 s)."""
        if level not in LEVELS:
            raise ValidationError(f"unknown automation level {level!r}", field="level",
                                  fix=f"use one of {', '.join(LEVELS)}")
        if self.store.models.get_model(model) is None:
            raise NotFoundError(f"model {model!r} does not exist", field="model",
                                fix="register a version of it first")
        before = self.level(model)["level"]
        self.store.automation.set_automation_level(model, level, actor=actor, reason=reason,
                                                   now=now)
        self.store.events.add_event(actor, LEVEL_EVENT, model=model,
                             details={"from": before, "to": level, "reason": reason})
        return self.level(model)

    def reset_level(self, model: str, *, actor: str, reason: str = "") -> dict[str, Any]:
        """Drop the run-time override: the project file's level applies again."""
        before = self.level(model)["level"]
        if self.store.automation.clear_automation_level(model):
            self.store.events.add_event(actor, LEVEL_EVENT, model=model, details={
                "from": before, "to": self.spec(model).level, "reason": reason or "reset to "
                "the project file"})
        return self.level(model)

    def history(self, model: str, limit: int = 50) -> list[dict[str, Any]]:
        return [{"ts": e.ts, "actor": e.actor, **e.details}
                for e in self.store.events.list_events(model, limit=500)
                if e.action == LEVEL_EVENT][:limit]

    # -- numbers --------------------------------------------------------------------------

    def metrics(self, model: str, *, since: float | None, now: float) -> dict[str, Any]:
        items = self.store.review.list_review_items(model, since=since, limit=1_000_000)
        n = self.store.predictions.count_answered(model, since)
        return {"model": model, **self.level(model), "since": since,
                **automation_metrics(items, n, now)}

    def consistency(self, model: str, *, since: float | None = None) -> dict[str, Any]:
        items = self.store.review.list_review_items(model, since=since, limit=1_000_000)
        labels = self.store.review.list_review_labels(model, since=since)
        adjudicated = self.store.review.list_review_labels(model, kinds=("adjudicate",),
                                                           since=since)
        return {"model": model, **consistency(labels, items, adjudicated,
                                              uncertain=self.spec(model).uncertain_label)}

    def advise(self, model: str, *, target: float, since: float | None = None) -> Advice:
        if not 0 < target < 1:
            raise ValidationError(f"target {target} is not an error rate in (0, 1)",
                                  field="target", fix="e.g. --target 0.05")
        items = self.store.review.list_review_items(model, statuses=["decided"], since=since,
                                                    limit=1_000_000)
        rows = [i for i in items if i["confidence"] is not None
                and isinstance(i["suggestion"], dict) and "prediction" in i["suggestion"]]
        correct = [_same(i["suggestion"]["prediction"], i["final_label"]) for i in rows]
        return advise([i["confidence"] for i in rows], correct, [i["weight"] for i in rows],
                      target=target)

    def calibrate(self, model: str, version: str, *, method: str = "isotonic",
                  actor: str = "cli", since: float | None = None) -> Calibrator:
        """Fit a calibration map on the version's labelled predictions and keep it with
        the version (used when ``automation.confidence: calibrated``)."""
        from rampup.monitor.labels import prediction_of

        conf: list[float] = []
        correct: list[bool] = []
        for chunk in self.store.predictions.iter_predictions(model, version=version, since=since,
                                                             roles=["answer"]):
            for r in chunk:
                if r["confidence"] is None or r.get("label") is None:
                    continue
                conf.append(float(r["confidence"]))
                correct.append(_same(prediction_of(r["outputs"]), r["label"]))
        cal = fit_calibrator(conf, correct, method)
        self.store.evaluations.add_evaluation(model, version, "calibration", name=method,
                                              actor=actor,
                                  summary={"method": method, "n": cal.n,
                                           "accuracy": sum(correct) / len(correct)},
                                  result=cal.to_dict())
        return cal


def _same(a: Any, b: Any) -> bool:
    return orjson.dumps(a) == orjson.dumps(b) or str(a) == str(b)
