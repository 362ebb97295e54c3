"""Retraining runs: request (guards), execute (dataset → train → register → evaluate →
replay → verdict → rollout), approve; the CLI, the admin API, the alert action and the
background loop all go through :class:`Retrainer`.

A run's states: ``queued`` → ``running`` → ``failed`` (the entry point crashed or timed
out, or a step raised), ``rejected`` (the candidate lost to the champion or failed its
audit), ``awaiting_approval`` (passed; ``auto_rollout: false``), ``rolled_out`` (its
rollout started) or ``superseded`` (the model's deployment changed while it ran, so its
comparison with the champion no longer says anything about what is served). A queued run
that nothing starts ``expired``. Nothing touches the deployment before the last step,
so a failed or rejected run leaves what is served exactly as it was.

Fencing: a run records the deployment it was decided on (the alert's, else the one
current when it was asked for; then the champion's when it starts), and its rollout
starts only while that deployment is still current. The database keeps one queued or
running run per model; runs that will never finish on their own (queued with nothing
to execute them, or left running by a process that is gone) are ended with the reason
before they can block the next one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rampup.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    RampupError,
    SupersededError,
)
from rampup.project import ProjectFile
from rampup.registry import remote
from rampup.registry.profile import read_table
from rampup.registry.registry import Registry
from rampup.retrain import job, upkeep
from rampup.retrain.dataset import assemble
from rampup.retrain.evaluate import evaluate_candidate
from rampup.retrain.ray_job import TrainingJob, run_on_ray
from rampup.retrain.replay import replay
from rampup.retrain.spec import RetrainSpec
from rampup.retrain.triggers import (
    RunSummary,
    check_guards,
    labels_since,
)
from rampup.retrain.upkeep import Notify
from rampup.retrain.workspace import run_folder
from rampup.rollout.policy import DeploymentPolicy
from rampup.rollout.service import CURRENT, Rollouts, Seen

if TYPE_CHECKING:
    from rampup.alerts.actions import ActionContext
    from rampup.rollout.plan import Plan
    from rampup.rollout.service import GateFn

log = logging.getLogger("rampup.retrain")



def _quiet(stage: str, message: str) -> None:
    log.info("retrain %s: %s", stage, message)


class Retrainer:
    def __init__(self, registry: Registry, project: ProjectFile, project_dir: Path, *,
                 clock: Callable[[], float] = time.time, gate: GateFn | None = None,
                 runs_dir: Path | None = None, executes: bool = True) -> None:
        """``executes``: whether queued runs get executed (False: a server whose
        retraining loop is off; the ``retrain`` alert action then refuses)."""
        self.registry = registry
        self.executes = executes
        self.store = registry.store
        self.project = project
        self.project_dir = Path(project_dir)
        self.clock = clock
        self.gate = gate
        self.runs_dir = runs_dir or self.project_dir / "retrain"
        self.cancel = threading.Event()  # set on shutdown: a running job is ended

    # -- configuration ------------------------------------------------------------------

    def spec(self, model: str) -> RetrainSpec:
        m = self.project.models.get(model)
        if m is None or m.retrain is None:
            configured = ", ".join(n for n, s in self.project.models.items() if s.retrain)
            raise ConfigError(f"model {model!r} has no retrain: section in rampup.yaml"
                              f" (models with one: {configured or 'none'})",
                              fix=f"add models.{model}.retrain with an entry_point or command")
        return m.retrain

    def models(self) -> list[str]:
        return [n for n, s in self.project.models.items() if s.retrain is not None]

    # -- reading ------------------------------------------------------------------------

    def get(self, run_id: int) -> dict[str, Any]:
        run = self.store.retrain.get_retrain_run(run_id)
        if run is None:
            raise NotFoundError(f"retraining run #{run_id} does not exist",
                                fix="list runs with: rampup retrain list")
        return run

    def runs(self, model: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        return self.store.retrain.list_retrain_runs(model, limit=limit)

    def _history(self, model: str) -> list[RunSummary]:
        return [RunSummary(r["id"], r["state"], r["created_at"])
                for r in self.store.retrain.list_retrain_runs(model, limit=200)]

    def _rollout_in_progress(self, model: str) -> str | None:
        active = Rollouts(self.store).active(model)
        return None if active is None else f"rollout #{active[0].id} of {active[0].candidate}"

    def guard_state(self, model: str) -> dict[str, Any]:
        """What the guards see now (for status displays)."""
        spec, now = self.spec(model), self.clock()
        runs = self._history(model)
        start = now - spec.since_s if spec.since_s else None
        new = self.store.feedback.count_new_labels(model, labels_since(runs, start))
        refusal = check_guards(spec.guards, runs, new_labels=new,
                               rollout_active=self._rollout_in_progress(model) or False, now=now)
        return {"model": model, "new_labels": new, "allowed": refusal is None,
                "guard": refusal.guard if refusal else None,
                "message": refusal.message if refusal else None,
                "fix": refusal.fix if refusal else None,
                "last_run": runs[0].id if runs else None}

    # -- starting -----------------------------------------------------------------------

    def request(self, model: str, *, trigger: str = "manual", actor: str = "cli",
                reason: str = "", details: dict[str, Any] | None = None,
                since: float | None = None, force: bool = False, claim: bool = False,
                record_refusal: bool = True, seen: Seen = CURRENT) -> dict[str, Any]:
        """Queue a run (``claim``: insert it as running, for a caller that executes it at
        once). Raises :class:`RetrainRefusedError` (HTTP 409) when a guard refuses, and
        :class:`SupersededError` when ``seen`` (the deployment the trigger was decided on,
        e.g. an alert's) is no longer current. A queued or running run of the model that
        will never finish is ended first, with its reason (see :meth:`clear_stale`)."""
        spec = self.spec(model)
        if self.store.models.get_model(model) is None:
            raise NotFoundError(f"model {model!r} has no registered versions",
                                fix="register and deploy a first version")
        now = self.clock()
        self.clear_stale(model, actor=actor)
        runs = self._history(model)
        start = since if since is not None else (now - spec.since_s if spec.since_s else None)
        new = self.store.feedback.count_new_labels(model, labels_since(runs, start))
        refusal = check_guards(spec.guards, runs, new_labels=new, now=now, force=force,
                               rollout_active=self._rollout_in_progress(model) or False)
        if refusal is not None:
            if record_refusal:
                self.store.events.add_event(actor, "retrain_refused", model=model, details={
                    "trigger": trigger, "guard": refusal.guard, "message": refusal.message,
                    "reason": reason, **(details or {})})
            raise refusal.error(model)
        reason = reason or f"{trigger} run requested by {actor}"
        dep = self.store.deployments.current_deployment(model)
        decided_on = (None if dep is None else dep.id) if seen == CURRENT else seen
        values: dict[str, Any] = {
            "model": model, "state": "running" if claim else "queued", "trigger": trigger,
            "actor": actor, "reason": reason, "created_at": now, "updated_at": now,
            "started_at": now if claim else None, "since": start, "deployment_id": decided_on,
            "details": {**(details or {}), "new_labels": new, "forced": force,
                        **({"worker": upkeep.worker()} if claim else {})}}
        run_id = self.store.retrain.insert_retrain_run(values, seen=seen)
        self.store.events.add_event(actor, "retrain_queued", model=model, details={
            "run_id": run_id, "trigger": trigger, "reason": reason, **(details or {})})
        return self.get(run_id)

    def clear_stale(self, model: str | None = None, *, actor: str = "retrain",
                    notify: Notify | None = None) -> list[dict[str, Any]]:
        """End queued or running runs that will never finish on their own (see
        :func:`rampup.retrain.upkeep.clear_stale`)."""
        return upkeep.clear_stale(self, model, actor=actor, notify=notify)

    # -- running ------------------------------------------------------------------------

    def execute(self, run_id: int, notify: Notify = _quiet) -> dict[str, Any]:
        """Run a queued (or claimed) run to its end; never raises for a failed step."""
        run = self.get(run_id)
        now = self.clock()
        if run["state"] == "queued":
            if not self.store.retrain.update_retrain_run(run_id, {
                    "state": "running", "started_at": now, "updated_at": now,
                    "details": {**(run["details"] or {}), "worker": upkeep.worker()}},
                    expect_states=["queued"]):
                raise ConflictError(f"retraining run #{run_id} was started meanwhile",
                                    fix=f"rampup retrain show {run_id}")
        elif run["state"] != "running":
            raise ConflictError(f"retraining run #{run_id} is {run['state']}; only a queued "
                                "run can be executed", fix="start a new run")
        notify("running", f"run #{run_id} of {run['model']} started ({run['trigger']}): "
                          f"{run['reason']}")
        try:
            return self._execute(self.get(run_id), notify)
        except KeyboardInterrupt:
            self._finish(run_id, "failed", notify, error="interrupted (Ctrl-C)")
            raise
        except Exception as exc:  # any step failing ends the run, never the server
            message = exc.message if isinstance(exc, RampupError) else \
                f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, RampupError):
                log.exception("retraining run #%d failed", run_id)
            return self._finish(run_id, "failed", notify, error=message)

    def _execute(self, run: dict[str, Any], notify: Notify) -> dict[str, Any]:
        run_id, model = run["id"], run["model"]
        spec = self.spec(model)
        champion, deployment_id = self._champion(model)
        features = [str(f["name"]) for f in champion.input_schema.get("features", [])]
        if not features:
            raise ConfigError(f"{model}@{champion.version} has no named features, so no "
                              "training table can be built from its log",
                              fix="retrain models with an input schema (named features)")
        label = self._label_column(model, spec, champion)
        with run_folder(spec.workspace or self.runs_dir, self.project_dir, model, run_id,
                        self.registry.storage_options) as (run_dir, where):
            return self._in_folder(run, spec, champion, deployment_id, features, label,
                                   run_dir, where, notify)

    def _in_folder(self, run: dict[str, Any], spec: RetrainSpec, champion: Any,
                   deployment_id: int | None, features: list[str], label: str,
                   run_dir: Path, where: str, notify: Notify) -> dict[str, Any]:
        run_id, model = run["id"], run["model"]
        reference = self._reference(model, spec, champion.version)
        test_set = (read_table(self._data(spec.evaluation.test_set))
                    if spec.evaluation.test_set else None)
        info = assemble(self.store, model, run_dir, features=features, label_column=label,
                        reference=reference, since=run["since"], now=self.clock(),
                        half_life=spec.half_life_s, holdout=spec.evaluation.holdout,
                        test_set=test_set, seed=spec.evaluation.seed,
                        log_rows=spec.log_rows)
        # What the run is decided on from now: the deployment its champion serves in.
        kept = info.to_dict()
        if where != str(run_dir):  # a URL workspace: the files' lasting names (erasure)
            kept.update(path=remote.join_url(where, Path(info.path).name),
                        holdout_path=remote.join_url(where, Path(info.holdout_path).name))
        self._update(run_id, champion=champion.version, dataset=kept, run_dir=where,
                     deployment_id=deployment_id)
        notify("dataset", f"dataset: {info.rows['train']} training rows "
                          f"({info.rows['reference']} reference + {info.rows['log_labelled']} "
                          f"labelled from the log), {info.rows['holdout']} held out; sha256 "
                          f"{info.sha256[:12]}")
        output = run_dir / "model.joblib"
        asked = run["details"] or {}  # rampup retrain --engine/--ray-address
        result = self._train(spec, asked.get("engine") or spec.engine,
                             asked.get("ray_address") or spec.ray.address, run_dir, output,
                             info.path, info.holdout_path, label)
        self._update(run_id, log_tail=result.log_tail)
        if not result.ok:
            return self._finish(run_id, "failed", notify, error=result.failure())
        if not output.exists():
            return self._finish(run_id, "failed", notify,
                                error=f"the entry point did not write the model to {output}")
        metrics = _read_json(run_dir / "metrics.json")
        notify("trained", f"trained in {result.seconds:.1f} s"
                          + "".join(f"; {k} {v:.4g}" for k, v in metrics.items()
                                    if k.startswith("holdout")))
        train = pd.read_parquet(info.path, columns=[*features, label])
        record = self.registry.register(
            model, output, reference=train, label_column=label, actor=f"retrain:#{run_id}",
            deploy=False, metadata={
                "params": spec.params, "metrics": metrics, "dataset_sha256": info.sha256,
                "retrain": {"run": run_id, "trigger": run["trigger"], "reason": run["reason"],
                            "champion": champion.version, "rows": info.rows}})
        if record.version == champion.version:
            return self._finish(run_id, "rejected", notify, candidate=record.version,
                                reasons=["the trained model is identical to the champion"])
        self._update(run_id, candidate=record.version)
        notify("registered", f"registered {model}@{record.version}")
        holdout = pd.read_parquet(info.holdout_path)
        policy = spec.evaluation
        v, kept = evaluate_candidate(self.registry, model, champion.version, record.version,
                                     holdout, label_column=label, metric=policy.metric,
                                     tolerance=policy.tolerance, bootstrap=policy.bootstrap,
                                     seed=policy.seed, actor=f"retrain:#{run_id}")
        self._update(run_id, evaluation=kept, verdict="pass" if v.passed else "fail",
                     reasons=v.reasons)
        notify("evaluated", f"{record.version} vs {champion.version} on {kept['rows']} held-out "
                            f"rows: {v.reasons[0]}")
        if spec.replay_last:
            self._replay(run_id, model, record.version, spec.replay_last, notify)
        if not v.passed:
            return self._finish(run_id, "rejected", notify, reasons=v.reasons)
        if not spec.auto_rollout:
            return self._finish(run_id, "awaiting_approval", notify, reasons=v.reasons)
        return self._rollout(self.get(run_id), f"retrain:#{run_id}", notify)

    def _replay(self, run_id: int, model: str, version: str, last: int,
                notify: Notify) -> None:
        try:
            report = replay(self.registry, model, version, last=last)
        except RampupError as exc:
            self._update(run_id, replay={"error": exc.message})
            notify("replayed", f"replay skipped: {exc.message}")
            return
        self._update(run_id, replay=report.to_dict())
        acc = "" if report.candidate_accuracy is None else (
            f"; accuracy {report.candidate_accuracy:.3f} vs production "
            f"{report.production_accuracy:.3f} on {report.labelled} labelled")
        agreement = "n/a" if report.agreement is None else f"{report.agreement:.1%}"
        notify("replayed", f"replayed {report.compared} logged requests: agreement with "
                           f"production {agreement}{acc}")

    def _train(self, spec: RetrainSpec, engine: str, address: str | None, run_dir: Path,
               output: Path, dataset: str, holdout: str, label: str) -> job.JobResult:
        (run_dir / "params.json").write_text(json.dumps(spec.params))
        names = {"dataset": Path(dataset).name, "output": output.name,
                 "params": "params.json", "holdout": Path(holdout).name,
                 "metrics": "metrics.json"}
        training = TrainingJob(spec.entry_point, spec.command, names, {"label": label},
                               outputs=(output.name, "metrics.json"))
        if engine == "ray":
            return run_on_ray(training, run_dir, inputs=[names["dataset"], names["holdout"],
                                                         "params.json"],
                              project_dir=self.project_dir, timeout=spec.timeout_s,
                              address=address, num_cpus=spec.ray.num_cpus,
                              cancel=self.cancel)
        return job.run_job(training.argv(run_dir), cwd=self.project_dir,
                           log_path=run_dir / "train.log", timeout=spec.timeout_s,
                           cancel=self.cancel)

    # -- after the verdict --------------------------------------------------------------

    def approve(self, run_id: int, *, actor: str = "cli", notify: Notify = _quiet
                ) -> dict[str, Any]:
        run = self.get(run_id)
        if run["state"] != "awaiting_approval":
            raise ConflictError(f"retraining run #{run_id} is {run['state']}; only a run "
                                "awaiting approval can be approved",
                                fix=f"see rampup retrain show {run_id}")
        self.store.events.add_event(actor, "retrain_approved", model=run["model"],
                                    version=run["candidate"], details={"run_id": run_id})
        return self._rollout(run, actor, notify)

    def _rollout(self, run: dict[str, Any], actor: str, notify: Notify) -> dict[str, Any]:
        spec = self.spec(run["model"])
        plan = self._plan(spec)
        rollouts = Rollouts(self.store, clock=self.clock, gate=self.gate)
        held = (run["evaluation"] or {}).get("held")
        claim = {"better": " (better than the champion)",
                 "no_worse": " (no worse than the champion, within noise)"}.get(held or "", "")
        seen: Seen = run["deployment_id"] if run["deployment_id"] is not None else CURRENT
        try:
            r = rollouts.deploy(run["model"], run["candidate"], strategy=spec.rollout.strategy,
                                plan=plan, actor=actor, seen=seen,
                                reason=f"retraining run #{run['id']}{claim}: {run['reason']}")
        except SupersededError as exc:
            # Compared with a champion that no longer serves: not a candidate any more.
            notify("rollout", f"rollout not started: {exc.message}")
            return self._finish(run["id"], "superseded", notify, error=(
                f"rollout not started: the model's deployment changed since the run was "
                f"evaluated against {run['champion']} ({exc.message.split(': ', 1)[-1]}); "
                "start a new run to compare with what serves now"))
        except RampupError as exc:
            notify("rollout", f"rollout not started: {exc.message}")
            return self._finish(run["id"], "awaiting_approval", notify,
                                error=f"rollout not started: {exc.message}")
        what = "deployed directly" if r is None else \
            f"rollout #{r.id} started ({r.plan.strategy}: {r.plan.steps[0].describe()} first)"
        notify("rollout", f"{run['model']}@{run['candidate']}: {what}")
        return self._finish(run["id"], "rolled_out", notify, rollout_id=None if r is None
                            else r.id)

    def _plan(self, spec: RetrainSpec) -> Plan | None:
        from rampup.rollout.plan import load_plan, parse_plan

        raw = spec.rollout.plan
        if raw is None:
            return None
        if isinstance(raw, str):
            return load_plan(self._path(raw))
        return parse_plan({"strategy": spec.rollout.strategy, **raw}, "retrain.rollout.plan")

    # -- the background loop ------------------------------------------------------------

    def tick(self, notify: Notify = _quiet) -> list[dict[str, Any]]:
        """One pass of the background loop (see :func:`rampup.retrain.upkeep.tick`)."""
        return upkeep.tick(self, notify)

    def alert_action(self, ctx: ActionContext) -> str:
        """The ``retrain`` alert action (see :func:`rampup.retrain.upkeep.alert_action`)."""
        return upkeep.alert_action(self, ctx)

    # -- helpers ------------------------------------------------------------------------

    def _finish(self, run_id: int, state: str, notify: Notify, **values: Any) -> dict[str, Any]:
        now = self.clock()
        self._update(run_id, state=state, finished_at=now, **values)
        run = self.get(run_id)
        self.store.events.add_event(f"retrain:#{run_id}", f"retrain_{state}", model=run["model"],
                                    version=run["candidate"], details={
                                 "run_id": run_id, "error": run["error"],
                                 "reasons": run["reasons"], "rollout_id": run["rollout_id"]})
        text = run["error"] or "; ".join(run["reasons"] or []) or ""
        notify(state if state == "failed" else "verdict",
               f"run #{run_id} {state.replace('_', ' ')}" + (f": {text}" if text else ""))
        return run

    def _update(self, run_id: int, **values: Any) -> None:
        self.store.retrain.update_retrain_run(run_id, {**values, "updated_at": self.clock()})

    def _champion(self, model: str) -> tuple[Any, int | None]:
        dep = self.store.deployments.current_deployment(model)
        if dep is None:
            return self.registry.latest(model), None
        return (self.registry.get(model, DeploymentPolicy.from_dict(dep.policy).primary),
                dep.id)

    def _label_column(self, model: str, spec: RetrainSpec, champion: Any) -> str:
        label = spec.label_column or ((champion.profile or {}).get("label") or {}).get("name")
        if label is None:
            raise ConfigError(f"the label column of {model} is unknown",
                              fix=f"set models.{model}.retrain.label_column")
        return str(label)

    def _path(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.project_dir / p

    def _data(self, path: str) -> str | Path:
        """A data file's path (relative: to the project), or its URL (s3://...) as given."""
        return path if remote.local_path(path) is None else self._path(path)

    def _reference(self, model: str, spec: RetrainSpec, champion: str) -> pd.DataFrame | None:
        path = spec.reference
        if path is None:
            declared = self.project.models[model].versions
            chosen = declared.get(champion)
            if chosen is None or chosen.reference is None:
                chosen = next((v for v in reversed(declared.values()) if v.reference), None)
            path = chosen.reference if chosen is not None else None
        return None if path is None else read_table(self._data(path))


def _read_json(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)} \
        if isinstance(data, dict) else {}

