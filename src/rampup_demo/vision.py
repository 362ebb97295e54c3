"""``rampup demo --scenario vision``: a visual-inspection line, from a human inspector to
partial automation, through a lighting change, back to health by retraining.

The world (:class:`~rampup_demo.vision_photos.Line`, with the photos v1 is trained on):
generated phone backs (:mod:`rampup_demo.vision_model`) come down the line under a lamp;
the simulated inspector (the demo's reviewer) knows each photo's truth by its content
hash, as a person knows it by looking; a share of phones gets a verified label a few
seconds later (the repair desk), through the feedback API.

The story, on the tabular demo's machinery (runner, traffic, reviewer, alarm watcher,
rollout follower, epilogue):

1. **people decide**: the model ``phone-inspection`` serves the built-in ``human``
   version; every photo waits in the review queue (``/review/phone-inspection``, with
   the photo) and the inspector works through it.
2. **shadow beside the inspector, then a canary to partial automation**: v1 (trained at
   start on studio-lit photos) is rolled out: in shadow first, judged by its agreement
   with the inspector (per class); then on 50 % and 100 % of the phones. The automation
   level is ``partial``: v1 decides the photos it is sure of, the uncertain ones wait for
   the inspector.
3. **the lamp is replaced** (:data:`~rampup_demo.vision_model.DIM`): brightness and
   contrast fall; ``lighting-drift`` fires (the image metrics drift against v1's
   reference), and once the repair desk's labels arrive ``accuracy-drop`` fires.
4. **retraining on the new light**: the demo reads the labelled photos since the change
   from the prediction log, their bytes from ``RAMPUP_INPUT_BYTES_DIR`` (the demo keeps
   them in ``data/inputs``), trains v2 on them plus the studio photos, registers it with
   the new light as its reference, and rolls it out on a canary; both alarms resolve.

>>> [r["name"] for r in VisionPlan().rules()]
['lighting-drift', 'accuracy-drop']
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy.engine import make_url

from rampup.config import Settings
from rampup.errors import ConflictError
from rampup.project import load_project
from rampup.registry.registry import Registry
from rampup.rollout.plan import Plan, Step
from rampup.rollout.service import Rollouts
from rampup.scaffold import scaffold
from rampup.serving.app import create_app
from rampup.store import Database
from rampup_demo import display
from rampup_demo.alarms import AlarmWatcher
from rampup_demo.rollout_tour import Tour, TourPlan
from rampup_demo.runner import (
    _OWNED,
    ALERTS_INTERVAL_S,
    CONTROLLER_INTERVAL_S,
    DRIFT_CHECK_S,
    FOREVER_S,
    MARKER,
    MONITOR_FLUSH_S,
    MONITOR_WINDOW_S,
    DemoResult,
    _quiet_logs,
    _Run,
    write_tokens,
)
from rampup_demo.server import HOST
from rampup_demo.story import ChapterResult, yaml_block
from rampup_demo.traffic import TrafficStats, drive
from rampup_demo.vision_model import (
    CLASSES,
    DIM,
    Lighting,
    accuracy,
    model_source,
    train,
)
from rampup_demo.vision_photos import (
    LABEL,
    Line,
    labelled_photos,
    train_v1,
    weights_of,
    write_shots,
)

MODEL = "phone-inspection"
ACTOR = "demo-vision"
RATE = 6.0  # photos per second: a 2-CPU machine serves, logs and inspects these easily
THRESHOLD = 0.8  # max class probability below this: the inspector decides
INSPECTOR_ACCURACY, INSPECTOR_SECONDS = 0.97, (0.03, 0.12)
LABEL_FRACTION, LABEL_DELAY_S = 0.6, (2.0, 8.0)  # the repair desk's verified labels


@dataclass(frozen=True)
class VisionPlan:
    """How long each part of the story may take (tests shorten the windows)."""

    n_train: int = 600
    n_reference: int = 300
    min_requests: int = 60
    hold_s: float = 8.0
    ramp_s: float = 10.0
    timeout_s: float = 180.0  # per rollout and per alarm wait
    settle_s: float = 150.0  # for the alarms to resolve after v2 is out
    min_new_labels: int = 150
    window_s: float = 30.0
    agreement: float = 0.8
    min_accuracy: float = 0.7

    def rules(self) -> list[dict[str, Any]]:
        w = f"{self.window_s:g}s"
        return [
            {"name": "lighting-drift", "severity": "warning", "window": w, "for": "5s",
             "condition": "drift.share_drifted > 0.2",
             "description": "the photos' image metrics (brightness, contrast, sharpness ...) "
                            "drift against the serving version's reference: the light changed"},
            {"name": "accuracy-drop", "severity": "critical", "window": w, "for": "5s",
             "condition": "concept.accuracy_drop > 0.15",
             "description": "realised accuracy 15 points below the version's own (labels "
                            "from the repair desk arrive a few seconds late)"}]

    def v1_plan(self) -> Plan:
        """Shadow beside the inspector, then 50 % (passing promotes to 100 %)."""
        return Plan(strategy="canary", standby_keep_s=60.0, checks=[
            "error_rate <= 0.05", f"accuracy >= {self.min_accuracy:g}"], steps=[
            Step(kind="shadow", weight=100, checks=[f"agreement >= {self.agreement:g}"],
                 min_duration_s=self.hold_s, min_requests=self.min_requests),
            Step(kind="canary", weight=50, min_duration_s=self.hold_s,
                 min_requests=self.min_requests)])

    def v2_plan(self) -> Plan:
        return Plan(strategy="canary", standby_keep_s=60.0, checks=[
            "error_rate <= baseline + 0.05", "accuracy >= baseline - 0.05"], steps=[
            # under half: v1 stays the live version the drift and accuracy checks read
            # until v2 is promoted, so the alarms resolve for the promotion, not the canary
            Step(kind="canary", weight=30, min_duration_s=self.hold_s,
                 min_requests=self.min_requests)])


PROJECT_YAML = """\
# Written by 'rampup demo --scenario vision' (rewritten on each run).
name: vision-demo
{database}artifacts_dir: artifacts

models:
  {model}:
    description: Phone backs on the inspection line, ok / scratch / dent (generated photos).
    output_labels: {{ok: no defect, scratch: scratched, dent: dented}}
    automation:
      level: partial                # the model decides when sure; the inspector the rest
      threshold: {threshold:g}
      audit_rate: 0.02
      labels: [ok, scratch, dent]
{alerts}"""


# -- the project ------------------------------------------------------------------------------

def prepare(directory: Path, *, fresh: bool, database_url: str | None,
            plan: VisionPlan) -> bool:
    is_demo = (directory / MARKER).exists()
    if (directory / "rampup.yaml").exists() and not is_demo:
        raise ConflictError(f"{directory} holds a rampup project the demo did not create",
                            fix="pass another --dir for the demo")
    if fresh and is_demo:
        import shutil

        for name in _OWNED:
            path = directory / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    reused = (directory / MARKER).exists()
    if not reused:
        scaffold(directory, name="vision-demo", force=True, example=False)
        (directory / MARKER).write_text("created by 'rampup demo --scenario vision'\n",
                                        encoding="utf-8")
    database = f"database_url: {json.dumps(database_url)}\n" if database_url else ""
    text = PROJECT_YAML.format(database=database, model=MODEL, threshold=THRESHOLD,
                               alerts=yaml_block({"alerts": plan.rules()}, 4))
    (directory / "rampup.yaml").write_text(text, encoding="utf-8")
    return reused


def register_v1(registry: Registry, info: dict[str, Any]) -> None:
    """v1 (never deployed here) and people deciding: routes ``human: 100``."""
    store = registry.store
    if store.models.get_version(MODEL, "v1") is None:
        registry.register(MODEL, f"{info['source']}:Inspector", version="v1", flavor="python",
                          reference=info["reference"], label_column=LABEL, actor="demo",
                          metadata={"algorithm": "logistic_regression on 14 image features",
                                    "metrics": {"accuracy": round(info["accuracy"], 4)},
                                    "trained_on": "studio light", "trained_by": "rampup demo"},
                          deploy=False)
    active = Rollouts(store).active(MODEL)
    if active is not None:
        Rollouts(store).abort(MODEL, actor=ACTOR, reason="the vision demo starts over")
    store.deployments.append_deployment(MODEL, {"routes": {"human": 100.0}}, ACTOR,
                                        "the inspector decides every phone")


# -- the chapters -----------------------------------------------------------------------------

class Automate:
    """People decide, then v1 in shadow beside them, then a canary to partial automation."""

    def __init__(self, run: VisionRun) -> None:
        self.demo = run
        self.result = ChapterResult()

    async def run(self) -> ChapterResult:
        r, c = self.demo, self.demo.console
        t0 = time.monotonic()
        c.rule("[bold]people decide[/]: every phone waits for the inspector")
        c.print(f"{MODEL} serves the built-in 'human' version: each photo goes to the review "
                f"queue ({r.url}/review/{MODEL} shows it) and the inspector decides.",
                highlight=False, soft_wrap=True)
        await asyncio.sleep(r.plan.hold_s)
        c.rule("[bold]shadow beside the inspector, then a canary to partial automation[/]")
        c.print("v1 (trained at start on studio-lit photos) runs in shadow: the rollout judges "
                "its agreement with the inspector, per class. Then it answers 50% of the phones, "
                f"then all of them, at level 'partial': below {THRESHOLD:g} confidence a "
                "phone still waits for the inspector.", highlight=False, soft_wrap=True)
        final = await r.deploy("v1", r.plan.v1_plan())
        self.result.seconds = time.monotonic() - t0
        if final != "promoted":
            c.print(f"[yellow]v1's rollout ended {final}[/]", highlight=False)
        return self.result

    def cut(self) -> str | None:
        return self.demo.abort()


class NewLamp:
    """The lamp is replaced: brightness and contrast fall; drift, then accuracy alarms."""

    def __init__(self, run: VisionRun) -> None:
        self.demo = run
        self.result = ChapterResult()

    async def run(self) -> ChapterResult:
        r, c = self.demo, self.demo.console
        t0 = time.monotonic()
        self.result.started = time.time()  # type: ignore[attr-defined]
        c.rule("[bold]a new lamp[/]: the light on the line changes")
        c.print(f"Over {r.plan.ramp_s:g} s the lamp is replaced ({DIM.describe()}): photos get "
                "darker and flatter. Nothing else changes: the phones are the same. Watch "
                "photo.brightness and photo.contrast on the model's dashboard page.",
                highlight=False, soft_wrap=True)
        steps = 4
        r.changed_at = time.time()
        for i in range(1, steps + 1):
            f = i / steps
            r.line.lighting = Lighting(gain=1 + (DIM.gain - 1) * f,
                                       contrast=1 + (DIM.contrast - 1) * f)
            await asyncio.sleep(r.plan.ramp_s / steps)
        for rule in ("lighting-drift", "accuracy-drop"):
            got = await r.watcher_().wait_for([rule], "firing", r.plan.timeout_s)
            self.result.fired.update(got)
            if not got:
                c.print(f"[yellow]{rule} did not fire within {r.plan.timeout_s:g} s[/]")
            elif rule == "lighting-drift":
                c.print("The scratches' edges are a third as strong under the new lamp: v1 "
                        "calls many defects 'ok'. The repair desk's labels will show it.",
                        highlight=False)
        self.result.seconds = time.monotonic() - t0
        return self.result

    def cut(self) -> str | None:
        return None


class Retrain:
    """v2 trained on the new light (labelled photos from the log), rolled out; the alarms
    resolve."""

    def __init__(self, run: VisionRun) -> None:
        self.demo = run
        self.result = ChapterResult()
        self.version: str | None = None

    async def run(self) -> ChapterResult:
        r, c = self.demo, self.demo.console
        t0 = time.monotonic()
        c.rule("[bold]retraining on the new light[/]")
        c.print("The labelled photos since the lamp changed come from the prediction log (the "
                "repair desk's and the inspector's labels), their bytes from the demo's "
                "RAMPUP_INPUT_BYTES_DIR (data/inputs). v2 learns from them and the studio "
                "photos, and takes the new light as its reference.", highlight=False,
                soft_wrap=True)
        deadline = time.monotonic() + r.plan.timeout_s
        while (n := await asyncio.to_thread(r.labelled_since)) < r.plan.min_new_labels:
            if time.monotonic() > deadline:
                break
            c.print(f"  {n} labelled photos under the new light so far; waiting for "
                    f"{r.plan.min_new_labels}", highlight=False)
            await asyncio.sleep(5.0)
        info = await asyncio.to_thread(r.train_v2)
        if info is None:
            c.print("[yellow]too few labelled photos under the new light to retrain[/]")
            return self.result
        self.version = info["version"]
        r.retrained = (f"{info['version']} trained on {info['new']} photos under the new lamp "
                       "(by the demo, from the kept input bytes)")
        c.print(f"  trained and registered {MODEL}@{info['version']} on {info['new']} new-light "
                f"photos + {info['old']} studio photos: accuracy under the new light "
                f"{info['accuracy']:.3f} (v1: {info['v1_accuracy']:.3f}) on {info['holdout']} "
                "held-out photos", highlight=False)
        final = await r.deploy(info["version"], r.plan.v2_plan())
        if final == "promoted":
            c.print("v2 serves every phone; its reference is the new light, so the drift "
                    "alarm's comparison is against it now, and its accuracy against its own.",
                    highlight=False, soft_wrap=True)
            got = await r.watcher_().wait_for(["lighting-drift", "accuracy-drop"], "resolved",
                                              r.plan.settle_s)
            self.result.resolved = got
        self.result.seconds = time.monotonic() - t0
        return self.result

    def cut(self) -> str | None:
        return self.demo.abort()


# -- the run ----------------------------------------------------------------------------------

class VisionRun(_Run):
    """The tabular demo's run (server, traffic, reviewer, status, story, epilogue) with the
    inspection line's model, traffic and inspector."""

    line: Line
    plan: VisionPlan
    registry: Registry
    root: Path
    follower: Tour
    changed_at: float = 0.0
    retrained: str = ""

    def watcher_(self) -> AlarmWatcher:
        assert self.watcher is not None
        return self.watcher

    async def _first_request(self, client: Any) -> None:
        record = next(self.line.records())
        response = await client.post(f"/v1/models/{MODEL}/predict",
                                      json={"photo": record["photo"]},
                                      headers={"x-request-key": "phone-1"})
        response.raise_for_status()
        body = response.json()
        self.console.rule("[bold]rampup demo: the visual-inspection line[/]")
        self.console.print(
            f"server {self.url} · dashboard {self.url}/dashboard/models/{MODEL} · review page "
            f"{self.url}/review/{MODEL}\nproject {self.project} · store {self.store} · admin "
            f"token in {self.tokens}\ntraffic: ~{self.rate:g} phone photos/s (48x48 PNG); "
            f"{LABEL_FRACTION:.0%} get a verified label 2-8 s later; the simulated inspector "
            f"works the review queue.\nfirst photo: {body['predictions'][0]['status']} "
            f"(version {body['version']})", highlight=False, soft_wrap=True)

    def _launch(self, truths: dict[str, Any]) -> tuple[asyncio.Task[TrafficStats],
                                                       list[asyncio.Task[Any]]]:
        def progress(stats: TrafficStats) -> None:
            self.stats = stats

        traffic = asyncio.create_task(drive(
            self.url, MODEL, self.line.records(), rate_per_s=self.rate, stop=self.stop,
            seed=self.seed, on_progress=progress, features=["photo"], label=LABEL,
            duration_s=FOREVER_S if self.duration is None else self.duration,
            label_fraction=LABEL_FRACTION, label_delay_s=LABEL_DELAY_S, bad_fraction=0.0,
            event_rates={}, concurrency=4))
        return traffic, []

    def _truth(self, truths: dict[str, Any]) -> Any:
        return self.line.knows  # the inspector looks at the photo

    def _world(self) -> str:
        return self.line.describe()

    async def _epilogue(self, watcher: AlarmWatcher) -> str:
        text = await super()._epilogue(watcher)
        if self.retrained:  # the demo retrained itself, not through a retraining run
            text = text.replace("  retraining: no run", f"  retraining: {self.retrained}")
        return text

    async def deploy(self, version: str, plan: Plan) -> str:
        rollouts = Rollouts(self.registry.store)
        r = await asyncio.to_thread(rollouts.deploy, MODEL, version, plan=plan, actor=ACTOR,
                                    reason=f"vision demo: {version}")
        if r is None:
            return "promoted"
        final = await self.follower.follow(r)
        return str(final.state)

    def abort(self) -> str | None:
        rollouts = Rollouts(self.registry.store)
        active = rollouts.active(MODEL)
        if active is None or active[0].actor != ACTOR:
            return None
        rollouts.abort(MODEL, actor=ACTOR, reason="the demo stopped")
        return f"the rollout of {active[0].candidate} was aborted"

    def labelled_since(self) -> int:
        """Answered photos since the lamp changed that have a label by now."""
        return sum(row["label"] in CLASSES
                   for chunk in self.registry.store.predictions.iter_predictions(
                       MODEL, since=self.changed_at, roles=["answer"])
                   for row in chunk)

    def train_v2(self) -> dict[str, Any] | None:
        """v2 from the labelled new-light photos of the log (bytes from data/inputs)."""
        store = self.registry.store
        photos = labelled_photos(store, MODEL, self.changed_at, self.root / "data" / "inputs")
        if len(photos) < self.plan.min_new_labels:
            return None
        rng = np.random.default_rng(self.seed + 11)
        order = rng.permutation(len(photos))
        cut = len(photos) * 3 // 4
        fit = [photos[i] for i in order[:cut]]
        held = [photos[i] for i in order[cut:]]
        studio = np.load(self.root / "data" / "vision" / "studio_train.npz")
        old_px, old_y = list(studio["pixels"]), [str(x) for x in studio["labels"]]
        weights = train([p for p, _, _ in fit] + old_px, [y for _, y, _ in fit] + old_y,
                        weights=[3.0] * len(fit) + [1.0] * len(old_px), seed=self.seed)
        acc = accuracy(weights, [p for p, _, _ in held], [y for _, y, _ in held])
        v1 = self.registry.get(MODEL, "v1")
        v1_acc = accuracy(weights_of(self.root / "data" / "vision" / "inspector_v1.py"),
                          [p for p, _, _ in held], [y for _, y, _ in held])
        existing = [v.version for v in store.models.list_versions(MODEL)]
        version = next(f"v{i}" for i in range(2, 1000) if f"v{i}" not in existing)
        folder = self.root / "data" / "vision"
        source = folder / f"inspector_{version}.py"
        source.write_text(model_source(version, weights, f"retrained on {len(fit)} photos "
                                       "under the new lamp and the studio photos"),
                          encoding="utf-8")
        manifest = write_shots(folder / f"light_{version}", [(png, y) for _, y, png in fit])
        self.registry.register(
            MODEL, f"{source}:Inspector", version=version, flavor="python",
            reference=manifest, label_column=LABEL, actor=ACTOR, deploy=False,
            metadata={"algorithm": v1.metadata.get("algorithm"), "trained_on": "new lamp",
                      "metrics": {"accuracy": round(acc, 4)}, "trained_by": "rampup demo"})
        return {"version": version, "new": len(fit), "old": len(old_px), "accuracy": acc,
                "v1_accuracy": v1_acc, "holdout": len(held)}


def run_vision(directory: Path, *, port: int = 8000, duration: float | None = None,
               rate: float = RATE, seed: int = 0, fresh: bool = False,
               console: Console | None = None, database_url: str | None = None,
               status_every: float = 10.0, plan: VisionPlan | None = None,
               stop_after_story: bool = False) -> DemoResult:
    """Run the vision scenario until Ctrl-C or for ``duration`` s (see the module doc)."""
    started = time.perf_counter()
    plan = plan or VisionPlan()
    console = console or Console()
    root = Path(directory).resolve()
    steps = display.Steps(console)
    with steps.step("project", "preparing the project folder") as note:
        reused = prepare(root, fresh=fresh, database_url=database_url, plan=plan)
        note(f"{'reused' if reused else 'created'} {display.relative(root)}")
    with steps.step("models", "generating phone photos, training v1") as note:
        info = train_v1(root / "data", n_train=plan.n_train,
                        n_reference=plan.n_reference, seed=seed)
        note(f"v1: logistic regression on 14 image features of {plan.n_train} studio-lit "
             f"photos; holdout accuracy {info['accuracy']:.3f}")
    token, tokens_file = write_tokens(root)
    store_url = database_url or f"sqlite:///{root / 'rampup.db'}"
    store_text = (display.relative(root / "rampup.db") if database_url is None
                  else make_url(database_url).render_as_string(hide_password=True))
    settings = Settings(project_dir=root, artifacts_dir=Path("artifacts"), database_url=store_url,
                        admin_token=SecretStr(token), predict_token=None, host=HOST, port=port,
                        controller=True, controller_interval=CONTROLLER_INTERVAL_S,
                        monitor_window_s=MONITOR_WINDOW_S, monitor_flush_interval=MONITOR_FLUSH_S,
                        alerts_interval=ALERTS_INTERVAL_S, drift_check_interval=DRIFT_CHECK_S,
                        input_bytes_dir=root / "data" / "inputs", retrain=False)
    store = Database.open(store_url)
    try:
        registry = Registry.from_settings(settings, store)
        with steps.step("registry", "registering v1; the inspector decides") as note:
            register_v1(registry, info)
            note("v1 registered; live routes: human 100%")
        app = create_app(settings, load_project(root / "rampup.yaml"))
        run = VisionRun(console, steps, app, port=port, rate=rate, seed=seed, duration=duration,
                        status_every=status_every, token=token, project=display.relative(root),
                        store=store_text, tokens=display.relative(tokens_file))
        run.model, run.plan, run.registry, run.root = MODEL, plan, registry, root
        run.line = Line(seed=seed)
        run.reviewer_accuracy, run.reviewer_seconds = INSPECTOR_ACCURACY, INSPECTOR_SECONDS
        run.watcher = AlarmWatcher(store, console, MODEL)
        run.follower = Tour(store, registry, console, model=MODEL, data=root / "data",
                            project=display.relative(root),
                            plan=TourPlan(timeout_s=plan.timeout_s), rate=rate)
        run.chapters = [Automate(run), NewLamp(run), Retrain(run)]
        run.stop_after_tour = stop_after_story
        run.started = started
        since = time.time()
        with _quiet_logs():
            stats = asyncio.run(run.main())
        logged = labelled = 0
        for chunk in store.predictions.iter_predictions(MODEL, since=since, roles=["answer"]):
            logged += len(chunk)
            labelled += sum(r["label"] is not None for r in chunk)
        total = store.predictions.count_predictions(MODEL)
    finally:
        store.close()
    display.show_summary(console, stats, logged=logged, labelled=labelled, total=total,
                         store=store_text)
    return DemoResult(directory=root, url=run.url, port=run.port, reused=reused, stats=stats,
                      predictions_logged=logged, labels_joined=labelled,
                      reviewed=run.reviewed.decided, total_predictions=total,
                      tokens_file=tokens_file, seconds=round(time.perf_counter() - started, 3),
                      ended_by=run.ended_by)
