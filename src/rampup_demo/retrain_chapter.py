"""The demo's retraining chapter: a training entry point for the loan model, the
``retrain:`` section the demo project carries, and a reporter that prints the loop's
progress as it happens.

For the lead integrating the demo (``demo/runner.py``):

1. Put :func:`retrain_yaml` under ``models.loan-default`` in the demo's ``rampup.yaml``
   (it names :func:`train` as the entry point and ``data/reference.parquet`` as the
   reference data), and give the drift alert rule ``actions: [retrain]``.
2. While the demo runs, call :meth:`RetrainStory.poll` every second or so (from any
   thread; it only reads the store). Each call prints, once each, the steps the loop has
   reached since: run started because of alert X → dataset rows → trained → evaluation
   vs champion → replay agreement → rollout started (or why it stopped)::

       story = RetrainStory(store, "loan-default", emit=console.print)
       ...
       story.poll()

>>> run = {"id": 3, "model": "loan-default", "state": "rolled_out", "trigger": "alert",
...        "actor": "alert:input-drift", "reason": "",
...        "details": {"alert": "input-drift", "condition": "drift.share_drifted >= 0.25",
...                    "value": 0.4}, "champion": "v2", "candidate": "v3",
...        "dataset": {"rows": {"reference": 20000, "log_labelled": 900, "train": 20630,
...                             "holdout": 270}},
...        "reasons": ["accuracy 0.8500 vs champion 0.7900 (delta +0.0600): better than the "
...                    "champion"], "evaluation": {"rows": 270},
...        "replay": {"compared": 2000, "agreement": 0.81, "labelled": 900,
...                   "candidate_accuracy": 0.86, "production_accuracy": 0.78},
...        "rollout_id": 4, "error": None}
>>> for _, line in story_lines(run, {"metrics": {"holdout_accuracy": 0.851}}):
...     print(line)
retraining run #3 started: alert input-drift fired (drift.share_drifted = 0.4, rule drift.share_drifted >= 0.25)
  dataset: 20630 training rows (20000 reference + 900 labelled from the log), 270 held out
  trained and registered loan-default@v3 (holdout accuracy 0.851)
  evaluation vs champion v2 on 270 held-out rows: accuracy 0.8500 vs champion 0.7900 (delta +0.0600): better than the champion
  replay of 2000 logged requests: agreement 81% with production; accuracy 0.860 vs 0.780 on 900 labelled
  rollout #4 of v3 started (watch: rampup rollout status loan-default)
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from rampup.store import Database
from rampup_demo.data import FEATURES, LABEL
from rampup_demo.train import build_pipeline

MODEL = "loan-default"


def train(dataset: pd.DataFrame, params: dict[str, Any]) -> Pipeline:
    """The demo's training entry point (``rampup_demo.retrain_chapter:train``).

    Fits :func:`rampup_demo.train.build_pipeline` (``params["kind"]``: ``gbm`` by default,
    or ``logistic``) on the assembled dataset, with each row's ``sample_weight`` and
    labelled log rows counted ``params["log_weight"]`` times (default 3) as much as the
    reference rows, so recent reality outweighs the old training data.
    """
    kind = str(params.get("kind", "gbm"))
    model = build_pipeline(kind, seed=int(params.get("seed", 0)))  # type: ignore[arg-type]
    weights = (dataset["sample_weight"].to_numpy(dtype=np.float64)
               if "sample_weight" in dataset else np.ones(len(dataset)))
    if "_source" in dataset:
        weights = np.where(dataset["_source"] == "log",
                           weights * float(params.get("log_weight", 3.0)), weights)
    with threadpool_limits(limits=1):
        model.fit(dataset[FEATURES], dataset[LABEL].to_numpy(dtype=np.int64),
                  model__sample_weight=weights)
    return model


def retrain_yaml(reference: str = "data/reference.parquet") -> dict[str, Any]:
    """The ``retrain:`` section of the demo's model (demo-speed guards and plan)."""
    return {
        "entry_point": "rampup_demo.retrain_chapter:train",
        "params": {"kind": "gbm", "log_weight": 5.0},
        "label_column": LABEL,
        "reference": reference,
        "since": "2m",  # the drifted minutes: the world the new version must learn
        "evaluation": {"holdout": 0.3, "metric": "accuracy", "tolerance": 0.01},
        "guards": {"min_new_labels": 200, "cooldown": "10m", "max_runs_per_day": 20},
        "timeout": "5m",
        "auto_rollout": True,
        "replay_last": 2000,
        # The judge passes a check only when its always-valid interval clears the margin:
        # "accuracy >= baseline - 0.02" on a 10% arm needed ~20 min of labels at the demo's
        # rate (seen in a fresh-clone run); a 5-point margin on a 25% arm decides in ~1-2.
        "rollout": {"strategy": "canary", "plan": {
            "checks": ["error_rate <= baseline + 0.02", "accuracy >= baseline - 0.05"],
            "steps": [{"shadow": 100, "min_duration_s": 10, "min_requests": 100,
                       "checks": ["error_rate <= 0.05"]},
                      {"canary": 25, "min_duration_s": 10, "min_requests": 100},
                      {"canary": 50, "min_duration_s": 10, "min_requests": 100},
                      # alone, the candidate has no contemporaneous baseline: its
                      # accuracy was judged beside v2 at 25% and 50% (as in the tour)
                      {"canary": 100, "min_duration_s": 10, "min_requests": 100,
                       "checks": ["error_rate <= baseline + 0.02"]}]}},
    }


def _why(run: dict[str, Any]) -> str:
    d = run.get("details") or {}
    if run["trigger"] == "alert" and d.get("alert"):
        metric = str(d.get("condition", "")).split(" ")[0] or "value"
        return (f"alert {d['alert']} fired ({metric} = {d.get('value'):.3g}, rule "
                f"{d.get('condition')})")
    if run["trigger"] == "schedule":
        return run["reason"] or "scheduled"
    return f"asked by {run['actor']}" + (f": {run['reason']}" if run["reason"] else "")


def story_lines(run: dict[str, Any], candidate_metadata: dict[str, Any] | None = None
                ) -> list[tuple[str, str]]:
    """The steps a run has reached, as (key, line) pairs in order (pure)."""
    n, out = run["id"], []
    out.append(("start", f"retraining run #{n} started: {_why(run)}"))
    ds = run.get("dataset")
    if ds:
        rows = ds["rows"]
        out.append(("dataset", f"  dataset: {rows['train']} training rows ({rows['reference']} "
                               f"reference + {rows['log_labelled']} labelled from the log), "
                               f"{rows['holdout']} held out"))
    if run.get("candidate"):
        metrics = (candidate_metadata or {}).get("metrics") or {}
        acc = metrics.get("holdout_accuracy")
        out.append(("trained", f"  trained and registered {run['model']}@{run['candidate']}"
                               + (f" (holdout accuracy {acc:.3f})" if acc is not None else "")))
    if run.get("evaluation") and run.get("reasons"):
        out.append(("evaluated", f"  evaluation vs champion {run['champion']} on "
                                 f"{run['evaluation'].get('rows')} held-out rows: "
                                 f"{run['reasons'][0]}"))
    rep = run.get("replay")
    if rep and rep.get("agreement") is not None:
        line = (f"  replay of {rep['compared']} logged requests: agreement "
                f"{rep['agreement']:.0%} with production")
        if rep.get("labelled"):
            line += (f"; accuracy {rep['candidate_accuracy']:.3f} vs "
                     f"{rep['production_accuracy']:.3f} on {rep['labelled']} labelled")
        out.append(("replayed", line))
    state = run["state"]
    if state == "rolled_out":
        out.append(("end", f"  rollout #{run['rollout_id']} of {run['candidate']} started "
                           f"(watch: rampup rollout status {run['model']})"))
    elif state in ("rejected", "failed", "awaiting_approval"):
        why = run.get("error") or "; ".join(run.get("reasons") or [])
        out.append(("end", f"  stopped: {state.replace('_', ' ')}" + (f" ({why})" if why
                                                                      else "")))
    return out


class RetrainStory:
    """Prints each step of the model's retraining runs once, as :meth:`poll` sees them."""

    def __init__(self, store: Database, model: str = MODEL, *,
                 emit: Callable[[str], object] = print, since: float = 0.0) -> None:
        self.store = store
        self.model = model
        self.emit = emit
        self.since = since
        self._shown: set[tuple[int, str]] = set()

    def poll(self) -> list[str]:
        """Emit (and return) the lines not shown yet, oldest run first."""
        printed = []
        runs = self.store.retrain.list_retrain_runs(self.model, since=self.since, limit=20)
        for run in reversed(runs):
            meta = None
            if run["candidate"]:
                record = self.store.models.get_version(self.model, run["candidate"])
                meta = record.metadata if record is not None else None
            for key, line in story_lines(run, meta):
                if (run["id"], key) not in self._shown:
                    self._shown.add((run["id"], key))
                    self.emit(line)
                    printed.append(line)
        return printed
