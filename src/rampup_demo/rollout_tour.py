"""The rollout tour of ``rampup demo``: shadow, a canary that is promoted, a bad version
that is rolled back automatically.

While the demo's traffic flows, :class:`Tour` deploys v2 (gradient boosting trained on
fresher applications than v1) with a plan that runs it in shadow and then on 10%, 50%
and 100% of the traffic; the server's rollout controller judges every step and promotes
it. Then it registers v3, v1 behind a new feature step with a bug that fails about 20%
of the applications, and deploys it on a canary plan: the controller rolls it back. The
tour only starts rollouts and reads :meth:`Rollouts.status`; the controller in the
server does the rest, as it would for ``rampup deploy``.

>>> plan = TourPlan()
>>> [s.describe() for s in plan.v2_plan().steps]
['shadow 100%', 'canary 10%', 'canary 50%', 'canary 100%']
>>> 50 < plan.estimate_s(rate=50) < 120
True
"""

from __future__ import annotations

import asyncio
import pprint
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from sklearn.ensemble import GradientBoostingClassifier
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from rampup.errors import RampupError
from rampup.registry.registry import Registry
from rampup.rollout.agreement import AgreementResult
from rampup.rollout.machine import TERMINAL, Rollout
from rampup.rollout.plan import Plan, Step
from rampup.rollout.policy import DeploymentPolicy
from rampup.rollout.service import Rollouts
from rampup.rollout.window import paired
from rampup.store import Database
from rampup_demo import display
from rampup_demo.data import DEFAULT_START, FEATURES, LABEL, TIME_COLUMN, LoanGenerator
from rampup_demo.train import BATCH_ROWS, build_pipeline, evaluate

ACTOR = "demo-tour"
POLL_S = 0.5
LABEL_FRACTION, LABEL_DELAY_S = 0.8, 6.0  # what the demo's traffic does (mean delay)
JUDGE_MIN_LABELLED = 50  # the controller's minimum of labelled predictions per version
V3_FILE = "v3_amount_bands.py"
PLAN_FILES = ("shadow-then-canary.yaml", "canary.yaml")
#: The tour's checks: the default checks with the margins a few minutes of the demo's
#: traffic can confirm. The judge passes a check only when its always-valid interval is
#: inside the margin (issue 13); at 5 requests/s on a 10% canary, a p99 within 1.2x or an
#: accuracy within 0.02 needs thousands of requests, longer than the tour waits.
TOUR_CHECKS = ("error_rate <= baseline + 0.02", "latency_p50 <= 1.5 * baseline",
               "accuracy >= baseline - 0.05")
FRESHER_BY_S = 28 * 24 * 3600.0  # v2's applications arrive four weeks after v1's


@dataclass(frozen=True)
class TourPlan:
    """The tour's plans: short holds, the server controller's sample minimums."""

    shadow_percent: float = 100.0
    weights: tuple[float, ...] = (10.0, 50.0, 100.0)
    bad_weights: tuple[float, ...] = (10.0, 50.0, 100.0)
    min_requests: int = 100
    hold_s: float = 5.0
    checks: tuple[str, ...] = TOUR_CHECKS
    warmup_s: float = 3.0
    timeout_s: float = 240.0  # per rollout: give up (abort) after this long
    standby_keep_s: float = 600.0  # a promotion keeps the old version warm this long

    def _steps(self, weights: Sequence[float]) -> list[Step]:
        return [Step(kind="canary", weight=w, min_duration_s=self.hold_s,
                     min_requests=self.min_requests,
                     checks=self.alone_checks() if w >= 100 else None) for w in weights]

    def alone_checks(self) -> list[str] | None:
        """The checks of a step where the candidate takes all traffic: error rate only.

        The baseline serves nothing then, so its numbers come from before the step: a
        machine busier now than a minute ago would be blamed on the candidate (latency),
        and so would applicants who changed meanwhile (accuracy: the retraining chapter
        rolls out in a drifting world, where that comparison once held v4 at 100% for
        minutes). Both are judged on the partial steps, where the two versions serve the
        same applicants side by side; errors do not move with the machine or the world.
        """
        kept = [c for c in self.checks if c.startswith("error_rate")]
        return kept if kept and len(kept) < len(self.checks) else None

    def v2_plan(self) -> Plan:
        shadow = Step(kind="shadow", weight=self.shadow_percent, min_duration_s=self.hold_s,
                      min_requests=self.min_requests)
        return Plan(strategy="canary", steps=[shadow, *self._steps(self.weights)],
                    checks=list(self.checks), standby_keep_s=self.standby_keep_s)

    def v3_plan(self) -> Plan:
        return Plan(strategy="canary", steps=self._steps(self.bad_weights),
                    checks=list(self.checks), standby_keep_s=self.standby_keep_s)

    def estimate_s(self, rate: float) -> float:
        """Roughly how long the tour takes at ``rate`` predictions per second."""
        labels = any(c.startswith("accuracy") for c in self.checks)
        lag = 1.5  # log flush, controller interval, polling

        def step(weight: float, with_labels: bool) -> float:
            per_s = max(rate * weight / 100.0, 1e-9)
            need = self.min_requests / per_s + lag
            if with_labels:
                need = max(need, JUDGE_MIN_LABELLED / (LABEL_FRACTION * per_s)
                           + LABEL_DELAY_S + lag)
            return max(self.hold_s + lag, need)

        return (self.warmup_s + step(self.shadow_percent, False)
                + sum(step(w, labels) for w in self.weights)
                + step(self.bad_weights[0], False) + 2.0)


# -- the versions ---------------------------------------------------------------------------

def train_fresh_v2(data: Path, *, seed: int, n_train: int) -> dict[str, Any]:
    """Train v2 on fresher applications and write ``data/model_v2.joblib``.

    The generator's stream continues past everything the other artifacts drew (v1's
    training rows, the holdout, the batch input), and those new applications arrive four
    weeks after v1's: v2 learns from a later time range.
    It is scikit-learn's classic gradient boosting: unlike the histogram variant it
    predicts without OpenMP threads, which on two busy cores cost a one-row request
    several times its compute. Returns its holdout metrics and what it was trained on.
    """
    gen = LoanGenerator(seed)
    old = gen.sample(n_train)
    holdout = gen.sample(max(1000, n_train // 4))
    gen.sample(BATCH_ROWS)
    fresh = gen.sample(n_train, start=DEFAULT_START + FRESHER_BY_S)
    model = build_pipeline("gbm", seed=seed)
    model.set_params(model=GradientBoostingClassifier(
        n_estimators=100, learning_rate=0.1, max_depth=3, subsample=0.8, random_state=seed))
    with threadpool_limits(limits=1):
        model.fit(fresh[FEATURES], fresh[LABEL].to_numpy(dtype=np.int64))
    joblib.dump(model, data / "model_v2.joblib")
    def span(df: pd.DataFrame) -> dict[str, Any]:
        times = df[TIME_COLUMN]
        return {"rows": len(df), "from": times.min().isoformat(),
                "to": times.max().isoformat()}

    return {"metrics": evaluate(model, holdout), "trained_on": span(fresh),
            "v1_trained_on": span(old)}


V3_SOURCE = '''\
"""loan-default v3, written by 'rampup demo': v1 behind a new feature step with a bug.

The step looks loan amounts up in a table of amount bands that misses every fifth band,
so predict raises for about 20% of applications. Register it, roll it out and watch the
rollout controller send it back.
"""

import joblib

V1 = {v1!r}
INPUT_SCHEMA = {schema}


class AmountBandsV3:
    input_schema = INPUT_SCHEMA  # v1's: predict gets a DataFrame of these columns

    def __init__(self):
        self.model = joblib.load(V1)
        self.classes_ = self.model.classes_

    def _bands(self, X):
        band = (X["loan_amount"] / 25).round() % 5
        if (band == 1).any():
            amount = X.loc[band == 1, "loan_amount"].iloc[0]
            raise KeyError(f"amount band of {{amount:g}} missing from the lookup table")

    def predict(self, X):
        self._bands(X)
        return self.model.predict(X)

    def predict_proba(self, X):
        self._bands(X)
        return self.model.predict_proba(X)
'''


def register_bad_v3(registry: Registry, model: str, data: Path) -> bool:
    """Write ``data/v3_amount_bands.py`` and register it as v3 (once); True if new.

    No reference data: the registry's smoke test on reference rows would catch the bug.
    """
    if registry.store.models.get_version(model, "v3") is not None:
        return False
    v1 = registry.get(model, "v1")
    path = data / V3_FILE
    path.write_text(V3_SOURCE.format(
        v1=str((data / "model_v1.joblib").resolve()),
        schema=pprint.pformat(v1.input_schema, indent=4, sort_dicts=False)), encoding="utf-8")
    registry.register(model, f"{path}:AmountBandsV3", version="v3", actor="demo",
                      metadata={"algorithm": "logistic_regression",
                                "note": "v1 with a buggy amount-band feature (fails ~20%)",
                                "trained_by": "rampup demo"}, deploy=False)
    return True


def write_plans(directory: Path, plan: TourPlan) -> list[Path]:
    """The tour's two plans as YAML files, for ``rampup deploy ... --plan``."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, p in zip(PLAN_FILES, (plan.v2_plan(), plan.v3_plan()), strict=True):
        body = p.model_dump(exclude_defaults=True)
        body["strategy"] = p.strategy
        path = directory / name
        text = f"# written by 'rampup demo': the tour's plan\n{yaml.safe_dump(body)}"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        out.append(path)
    return out


# -- the tour -------------------------------------------------------------------------------

@dataclass
class TourResult:
    states: dict[str, str] = field(default_factory=dict)  # version -> final rollout state
    seconds: float = 0.0


class Tour:
    """Runs the tour against a live server that shares ``store`` (see the module doc)."""

    def __init__(self, store: Database, registry: Registry, console: Console, *, model: str,
                 data: Path, project: str, plan: TourPlan, rate: float) -> None:
        self.store, self.registry, self.console = store, registry, console
        self.model, self.data, self.project = model, data, project
        self.plan, self.rate = plan, rate
        self.rollouts = Rollouts(store)
        self.result = TourResult()

    async def run(self) -> TourResult:
        t0 = time.monotonic()
        c = self.console
        plans = await asyncio.to_thread(write_plans, self.data.parent / "plans", self.plan)
        display.show_tour_intro(c, self.rate, self.plan.estimate_s(self.rate),
                                self.plan.v2_plan(), self.plan.v3_plan())
        await asyncio.sleep(self.plan.warmup_s)
        note = await asyncio.to_thread(self._reset)
        if note:
            c.print(note, highlight=False)
        v1, v2 = await asyncio.gather(asyncio.to_thread(self.registry.get, self.model, "v1"),
                                      asyncio.to_thread(self.registry.get, self.model, "v2"))
        display.show_candidate(c, "v2", v2.metadata, "v1", v1.metadata)
        await self._roll_out("v2", self.plan.v2_plan())
        added = await asyncio.to_thread(register_bad_v3, self.registry, self.model, self.data)
        display.show_bad_version(c, display.relative(self.data / V3_FILE), added)
        await self._roll_out("v3", self.plan.v3_plan())
        self.result.seconds = time.monotonic() - t0
        display.show_do_it_yourself(c, self.model, self.project,
                                    [f"{p.parent.name}/{p.name}" for p in plans],
                                    self.result.seconds)
        return self.result

    def _reset(self) -> str | None:
        """Start from v1 taking all traffic (a rerun of the demo finds v2 live)."""
        notes = []
        active = self.rollouts.active(self.model)
        if active is not None:
            self.rollouts.abort(self.model, actor=ACTOR, reason="the demo tour starts over")
            notes.append(f"aborted the unfinished rollout of {active[0].candidate}")
        dep = self.store.deployments.current_deployment(self.model)
        v1 = DeploymentPolicy.single("v1")
        if dep is None or DeploymentPolicy.from_dict(dep.policy).routes != v1.routes:
            self.store.deployments.append_deployment(self.model, v1.to_dict(), ACTOR,
                                                     "the demo tour starts from v1")
            notes.append("v1 takes all traffic again")
        return f"[dim]tour reset: {'; '.join(notes)}[/]" if notes else None

    async def _roll_out(self, version: str, plan: Plan) -> None:
        try:
            r = await asyncio.to_thread(self.rollouts.deploy, self.model, version, plan=plan,
                                        actor=ACTOR, reason=f"demo tour: {version}")
        except RampupError as exc:
            self.console.print(f"[red]could not deploy {version}:[/] {exc.message}")
            return
        if r is None:  # pragma: no cover - the model always has a deployment here
            return
        final = await self.follow(r)
        self.result.states[version] = final.state

    async def follow(self, r: Rollout) -> Rollout:
        """Print each step as the controller moves the rollout; return it once finished."""
        c = self.console
        display.show_step_start(c, r)
        deadline = time.monotonic() + self.plan.timeout_s
        with c.status(f"{r.candidate}: {display.step_doing(r)}") as spinner:
            while True:
                await asyncio.sleep(POLL_S)
                st = await asyncio.to_thread(self.rollouts.status, self.model)
                now = st.rollout
                if now is None or now.id != r.id:
                    c.print(f"[yellow]the rollout of {r.candidate} was replaced by another[/]")
                    return r
                if (now.step, now.state) != (r.step, r.state):
                    await self._steps_done(r, now, st.checks)
                    if now.state in TERMINAL:
                        return now
                    if now.state != "paused":
                        display.show_step_start(c, now)
                    r = now
                elif st.checks and st.checks[0]["step"] == r.step:
                    spinner.update(f"{r.candidate}: {display.step_doing(r)}: "
                                   f"{st.checks[0]['reason']}")
                if time.monotonic() > deadline:
                    return await asyncio.to_thread(self._give_up, r)

    async def _steps_done(self, before: Rollout, after: Rollout,
                          checks: list[dict[str, Any]]) -> None:
        """Report every step that ended between two polls (usually one), with the
        controller's last judgement of it."""
        end = after.step + 1 if after.state in TERMINAL else after.step
        for i in range(before.step, end):
            final = next((ck for ck in checks if ck["step"] == i and ck["decision"] != "wait"),
                         None)
            first = i == before.step
            elapsed = (final["ts"] if final else time.time()) - before.step_started_at
            agreement = None
            if first and before.plan.steps[i].kind == "shadow":
                agreement = await asyncio.to_thread(self._agreement, before)
            display.show_step_done(self.console, before, i, final,
                                   elapsed if first else None, agreement)
        if after.state == "paused":
            self.console.print(f"[yellow]the rollout of {after.candidate} is paused[/]: "
                               f"{after.reason}", highlight=False)
        if after.state in TERMINAL:
            dep = await asyncio.to_thread(self.store.deployments.current_deployment, self.model)
            display.show_outcome(self.console, after, dep.policy if dep else {})

    def _agreement(self, r: Rollout) -> AgreementResult:
        pairs = paired(self.store, self.model, r.candidate, r.baseline,
                       since=r.step_started_at, until=time.time())
        return pairs.agreement().result()

    def _give_up(self, r: Rollout) -> Rollout:
        self.rollouts.abort(self.model, actor=ACTOR,
                            reason=f"the demo tour waited {self.plan.timeout_s:g} s")
        self.console.print(f"[yellow]{r.candidate} did not finish within "
                           f"{self.plan.timeout_s:g} s; rollout aborted[/] (see 'rampup "
                           f"rollout status {self.model}' for the last checks)")
        latest = self.rollouts.latest(self.model)
        return latest[0] if latest else r

    def cut(self) -> str | None:
        """Abort the tour's unfinished rollout (the demo stops mid-tour). A rollout is the
        tour's when the tour started it: by its actor, so one whose start was still on its
        way when the tour was cancelled counts too."""
        active = self.rollouts.active(self.model)
        if active is None or active[0].actor != ACTOR:
            return None
        self.rollouts.abort(self.model, actor=ACTOR,
                            reason="the demo stopped before the tour finished")
        return (f"rollout tour cut short: the rollout of {active[0].candidate} was aborted, "
                "all traffic is back on its baseline")
