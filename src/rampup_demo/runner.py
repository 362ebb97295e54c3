"""``rampup demo``: a project, trained versions, a live server, traffic and a rollout tour,
in one command.

:func:`run_demo` creates (or reuses) a project folder, trains v1 on generated loan
applications and v2 on fresher ones, registers both (v1 deployed), writes an admin
token, serves the model in-process on 127.0.0.1 (rollout controller every 0.5 s), drives
traffic with delayed labels at it and prints what to open and try. Then the rollout tour
(:mod:`rampup_demo.rollout_tour`) rolls v2 out through shadow and a canary and shows a
broken v3 rolled back; a live status line follows (the chapters' hooks and the status
line: :mod:`rampup_demo.story_hooks`). On Ctrl-C (or after ``duration`` seconds) it shuts
down gracefully and prints what the store holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy.engine import make_url

from rampup.config import Settings
from rampup.errors import ConflictError
from rampup.project import load_project
from rampup.registry.registry import Registry
from rampup.scaffold import scaffold
from rampup.serving.app import create_app
from rampup.store import Database
from rampup_demo import display
from rampup_demo import pipeline as speech
from rampup_demo.alarms import AlarmWatcher
from rampup_demo.data import FEATURES, LABEL, LoanGenerator
from rampup_demo.retrain_chapter import retrain_yaml
from rampup_demo.reviewer import ReviewerStats, review
from rampup_demo.rollout_tour import (
    Tour,
    TourPlan,
    register_bad_v3,
    train_fresh_v2,
    write_plans,
)
from rampup_demo.scenario import TRANSCRIPT, Scenario, with_dependency
from rampup_demo.server import HOST, BackgroundServer
from rampup_demo.story import LATENCY_SLO_MS, StoryPlan, alert_rules_yaml, yaml_block
from rampup_demo.story_hooks import Chapter, StoryHooks
from rampup_demo.traffic import TrafficStats, drive
from rampup_demo.train import build_demo_artifacts

MODEL = "loan-default"
MARKER = ".rampup-demo"
DATA_FILES = ("model_v1.joblib", "model_v2.joblib", "reference.parquet", "holdout.parquet",
              "batch_input.csv", "metrics.json")
_OWNED = ("rampup.yaml", "rampup.db", "rampup.db-wal", "rampup.db-shm", "tokens.txt",
          "data", "artifacts", "example", "plans", MARKER)
FOREVER_S = 7 * 24 * 3600.0  # "until Ctrl-C" still gives the load generator a bound
CONTROLLER_INTERVAL_S = 0.5  # the rollout controller's pass, short so the tour moves quickly
# Short monitor windows and frequent alert passes: alarms fire and resolve within a minute
# (a real deployment keeps the 60 s windows and 10 s passes of the defaults).
MONITOR_WINDOW_S, MONITOR_FLUSH_S, ALERTS_INTERVAL_S, DRIFT_CHECK_S = 10.0, 2.0, 2.0, 5.0
REVIEW_THRESHOLD, AUDIT_RATE = 0.6, 0.02  # ~6% of requests + 2% audits go to the queue
REVIEWER_ACCURACY, REVIEWER_SECONDS = 0.95, (0.02, 0.1)  # the simulated person
SPEECH_RATE, SPEECH_FEATURES = 5.0, ("energy", "audio_len", "words")  # the pipeline's traffic
RETRAIN_INTERVAL_S = 2.0  # the retraining loop's pass: a queued run starts within 2 s
RETRAIN_ROLLOUT_S = 900.0  # the demo gives the retrained version's rollout this long
DEFAULT_RATE = 50.0  # predictions/s: the tour's 10% canary gets its 100 requests in ~20 s
TOUR = TourPlan()
STORY = StoryPlan()

PROJECT_YAML = """\
# Written by 'rampup demo' (rewritten on each run: copy it to start a project of your own).
name: loan-demo
{database}artifacts_dir: artifacts          # registered versions are copied here (read-only)

serving:
  host: 127.0.0.1
  port: 8000

models:
  {model}:
    description: Probability that a loan application defaults (generated data).
    versions:                       # 'rampup apply' / 'rampup serve' find them registered
      v1:
        artifact: data/model_v1.joblib
        reference: data/reference.parquet
        label_column: {label}
        metadata: {{algorithm: logistic_regression}}
      v2:
        artifact: data/model_v2.joblib
        reference: data/reference.parquet
        label_column: {label}
        metadata: {{algorithm: gradient_boosting}}
    output_labels: {{"0": repays, "1": defaults}}   # shown on the review page
    slo:
      latency_p99_ms: {slo_ms}                # a healthy loaded 2-CPU machine stays below
      expected_qps: {rate:g}
      max_error_rate: 0.01
      key_metrics: [roc_auc, accuracy]
    automation:                     # the model decides when confident; the rest waits for a person
      level: partial
      threshold: {threshold:g}                # max class probability below this: review queue
      audit_rate: {audit:g}               # and this share of confident decisions is audited
      labels: [0, 1]
{alerts}{retrain}{pipeline}"""


@dataclass(frozen=True)
class DemoResult:
    """What one demo run did and what the store holds afterwards (this run's rows)."""

    directory: Path
    url: str
    port: int
    reused: bool
    stats: TrafficStats
    predictions_logged: int
    labels_joined: int
    total_predictions: int
    tokens_file: Path
    seconds: float
    reviewed: int = 0  # review items the simulated reviewer decided (their labels join too)
    #: what ended the traffic: "duration" (or a dry source), "story" (stop_after_tour:
    #: the tour and story were over) or "interrupt" (Ctrl-C)
    ended_by: str = "duration"


# -- the project ----------------------------------------------------------------------------

def prepare_project(directory: Path, *, fresh: bool, rate: float, database_url: str | None,
                    rules: list[dict[str, Any]] | None = None) -> bool:
    """Create the demo project folder, or reuse it (returns True then)."""
    is_demo = (directory / MARKER).exists()
    if (directory / "rampup.yaml").exists() and not is_demo:
        raise ConflictError(f"{directory} holds a rampup project the demo did not create",
                            fix="pass another --dir for the demo")
    if fresh and is_demo:  # only what the demo made: never a folder it does not own
        for name in _OWNED:
            path = directory / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    reused = (directory / MARKER).exists()
    if not reused:
        scaffold(directory, name="loan-demo", force=True, example=True)  # artifacts/, example/
        (directory / MARKER).write_text("created by 'rampup demo'\n", encoding="utf-8")
    database = f"database_url: {json.dumps(database_url)}\n" if database_url else ""
    text = PROJECT_YAML.format(database=database, model=MODEL, label=LABEL, rate=rate,
                               alerts=alert_rules_yaml(indent=4, rules=rules),
                               retrain=_retrain_yaml(),
                               threshold=REVIEW_THRESHOLD, audit=AUDIT_RATE,
                               pipeline=_pipeline_yaml(), slo_ms=LATENCY_SLO_MS)
    project_file = directory / "rampup.yaml"
    if not project_file.exists() or project_file.read_text(encoding="utf-8") != text:
        project_file.write_text(text, encoding="utf-8")
    return reused


def _retrain_yaml() -> str:
    """The model's ``retrain:`` section (entry point, data, guards, rollout plan)."""
    return yaml_block({"retrain": retrain_yaml()}, 4)


def _pipeline_yaml() -> str:
    """The speech pipeline's models (``vad`` → ``asr`` as ``transcribe``)."""
    return yaml_block(speech.project_models(), 2)


def write_tokens(directory: Path) -> tuple[str, Path]:
    """A fresh admin token, written ``.env``-style to ``tokens.txt``, readable by you only."""
    token = secrets.token_urlsafe(24)
    path = directory / "tokens.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# written by 'rampup demo'; load with: set -a; . ./tokens.txt; set +a\n"
                f"RAMPUP_ADMIN_TOKEN={token}\n")
    path.chmod(0o600)  # it may have existed with a wider mode
    return token, path


def _train(data: Path, seed: int, n_train: int) -> tuple[dict[str, Any], bool]:
    """Holdout metrics of v1 and v2; trains only when a data file is missing.

    v2 is trained again on fresher applications than v1 (a later range of the same
    generator), replacing the one :func:`build_demo_artifacts` fits on v1's rows.
    """
    metrics_file = data / "metrics.json"
    if all((data / f).exists() for f in DATA_FILES):
        return dict(json.loads(metrics_file.read_text(encoding="utf-8"))), False
    art = build_demo_artifacts(data, seed=seed, n_train=n_train)
    fresh = train_fresh_v2(data, seed=seed, n_train=n_train)
    info = {"seed": seed, "n_train": n_train, **art.metrics, "v2": fresh["metrics"],
            "v1_trained_on": fresh["v1_trained_on"], "v2_trained_on": fresh["trained_on"]}
    metrics_file.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info, True


def _register(registry: Registry, data: Path, metrics: dict[str, Any]) -> list[str]:
    """v1 (deployed when the model has no deployment yet), v2 and the broken v3 (never
    deployed here). Returns the versions registered now (none when the project is
    reused)."""
    added = []
    for version, algorithm in (("v1", "logistic_regression"), ("v2", "gradient_boosting")):
        if registry.store.models.get_version(MODEL, version) is not None:
            continue
        added.append(version)
        span = metrics.get(f"{version}_trained_on")
        extra = {"trained_on": span} if span else {}
        registry.register(
            MODEL, data / f"model_{version}.joblib", version=version,
            reference=data / "reference.parquet", label_column=LABEL, actor="demo",
            metadata={"algorithm": algorithm, "metrics": metrics.get(version, {}),
                      "trained_by": "rampup demo", **extra},
            deploy=None if version == "v1" else False)
    # v3 (broken on purpose) from the start, never left serving: the tour rolls it out and
    # back, and the README's tour can deploy it at any moment of the demo
    if register_bad_v3(registry, MODEL, data):
        added.append("v3")
    if registry.store.models.get_version("asr", "v1") is None:
        speech.register(registry)  # the speech pipeline's two stages (Python objects)
    return added


def _count(store: Database, since: float) -> tuple[int, int, int]:
    """(answers logged since ``since``, of which labelled, all predictions of the model)."""
    logged = labelled = 0
    for chunk in store.predictions.iter_predictions(MODEL, since=since, roles=["answer"]):
        logged += len(chunk)
        labelled += sum(r["label"] is not None for r in chunk)
    return logged, labelled, store.predictions.count_predictions(MODEL)


# -- the run ----------------------------------------------------------------------------------

def run_demo(directory: Path, *, port: int = 8000, duration: float | None = None,
             rate: float = DEFAULT_RATE, seed: int = 0, fresh: bool = False,
             console: Console | None = None, database_url: str | None = None,
             n_train: int = 20_000, status_every: float = 10.0,
             tour: TourPlan | None = TOUR, story: StoryPlan | None = STORY,
             stop_after_tour: bool = False) -> DemoResult:
    """Run the demo until Ctrl-C, or for ``duration`` seconds of traffic; see the module doc.

    The store is the SQLite file ``rampup.db`` in ``directory`` unless ``database_url``
    is given. Tokens and URLs in ``RAMPUP_*`` variables are ignored: the demo makes its own.
    ``tour`` is the rollout tour's plan (None: no tour). A ``duration`` shorter than the
    tour's estimate skips it; traffic that ends mid-tour aborts the tour's rollout.
    ``story`` plans the chapters after the tour (:mod:`rampup_demo.story`: an incident,
    then data and concept drift, with their alarms; None: none), run when ``duration``
    leaves room for them.
    ``stop_after_tour`` ends the traffic once the tour (and the story) is over (scripted
    runs, tests).
    """
    started = time.perf_counter()
    console = console or Console()
    root = Path(directory).resolve()
    steps = display.Steps(console)
    with steps.step("project", "preparing the project folder") as note:
        reused = prepare_project(root, fresh=fresh, rate=rate, database_url=database_url,
                                 rules=(story or STORY).rules())
        note(f"{'reused' if reused else 'created'} {display.relative(root)}")
    with steps.step("models", "generating data, training v1 and v2") as note:
        metrics, trained = _train(root / "data", seed, n_train)
        write_plans(root / "plans", tour or TourPlan())
        note(f"{'trained' if trained else 'reused'} v1 (logistic regression) and v2 "
             "(gradient boosting on fresher applications); holdout AUC "
             + " / ".join(f"{metrics[v]['auc']:.3f}" for v in ("v1", "v2") if v in metrics))
    token, tokens_file = write_tokens(root)
    store_url = database_url or f"sqlite:///{root / 'rampup.db'}"
    store_text = (display.relative(root / "rampup.db") if database_url is None
                  else make_url(database_url).render_as_string(hide_password=True))
    settings = Settings(project_dir=root, artifacts_dir=Path("artifacts"), database_url=store_url,
                        admin_token=SecretStr(token), predict_token=None, host=HOST, port=port,
                        controller=True, controller_interval=CONTROLLER_INTERVAL_S,
                        monitor_window_s=MONITOR_WINDOW_S, monitor_flush_interval=MONITOR_FLUSH_S,
                        alerts_interval=ALERTS_INTERVAL_S, drift_check_interval=DRIFT_CHECK_S,
                        retrain_interval=RETRAIN_INTERVAL_S)
    store = Database.open(store_url)
    try:
        registry = Registry.from_settings(settings, store)
        with steps.step("registry", "registering v1, v2 and v3 (broken on purpose)") as note:
            added = _register(registry, root / "data", metrics)
            dep = store.deployments.current_deployment(MODEL)
            note(f"{'registered' if added else 'reused'} v1, v2 and v3; live routes: "
                 f"{display.routes_text(dep.policy if dep else {})}")
        scenario = Scenario(seed=seed + 1)
        app = create_app(settings, load_project(root / "rampup.yaml"),
                         load=with_dependency(registry.load, scenario))
        run = _Run(console, steps, app, port=port, rate=rate, seed=seed, duration=duration,
                   status_every=status_every, token=token, project=display.relative(root),
                   store=store_text, tokens=display.relative(tokens_file), scenario=scenario)
        run.tour = _tour(console, store, registry, root, tour, rate=rate, duration=duration)
        run.watcher = AlarmWatcher(store, console, MODEL)
        run.chapters = [run.tour] if run.tour is not None else []
        if story is not None and _room_for_story(console, tour, story, rate=rate,
                                                 duration=duration):
            # follows the retrained version's rollout (its canary steps wait for labels)
            follower = Tour(store, registry, console, model=MODEL, data=root / "data",
                            project=display.relative(root),
                            plan=TourPlan(timeout_s=RETRAIN_ROLLOUT_S), rate=rate)
            run.chapters += story.chapters(scenario, run.watcher, console,
                                           follow=follower.follow)
        run.stop_after_tour = stop_after_tour
        run.started = started
        since = time.time()
        with _quiet_logs():
            stats = asyncio.run(run.main())
        logged, labelled, total = _count(store, since)
    finally:
        store.close()
    display.show_summary(console, stats, logged=logged, labelled=labelled, total=total,
                         store=store_text)
    return DemoResult(directory=root, url=run.url, port=run.port, reused=reused, stats=stats,
                      predictions_logged=logged, labels_joined=labelled,
                      reviewed=run.reviewed.decided,
                      total_predictions=total, tokens_file=tokens_file,
                      seconds=round(time.perf_counter() - started, 3), ended_by=run.ended_by)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Leave out the server's traceback of each failed prediction while the demo runs: the
    broken v3 of the tour fails on purpose, and the failures show as 5xx counts, in the
    prediction log and in the rollout's checks. Likewise the log notifier's one JSON line
    per alarm: the demo's alarm watcher prints each alarm readably."""
    serving, alerts = logging.getLogger("rampup.serving"), logging.getLogger("rampup.alerts")

    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).endswith("raised while predicting")

    def keep_alert(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("alert %s %s/%s")

    serving.addFilter(keep)
    alerts.addFilter(keep_alert)
    try:
        yield
    finally:
        serving.removeFilter(keep)
        alerts.removeFilter(keep_alert)


def _tour(console: Console, store: Database, registry: Registry, root: Path,
          plan: TourPlan | None, *, rate: float, duration: float | None) -> Tour | None:
    """The rollout tour, unless switched off or longer than ``duration`` (then say so)."""
    if plan is None:
        return None
    estimate = plan.estimate_s(rate)
    if duration is not None and duration < estimate:
        console.print(f"[dim]rollout tour skipped: --duration {duration:g} s is shorter than "
                      f"the tour (about {estimate:.0f} s at {rate:g}/s); run without "
                      "--duration to see it, or pass --no-tour[/]", highlight=False)
        return None
    return Tour(store, registry, console, model=MODEL, data=root / "data",
                project=display.relative(root), plan=plan, rate=rate)


def _room_for_story(console: Console, tour: TourPlan | None, story: StoryPlan, *,
                    rate: float, duration: float | None) -> bool:
    """True unless ``duration`` leaves no room for the story after the tour (then say so)."""
    need = story.estimate_s() + (tour.estimate_s(rate) if tour is not None else 0.0)
    if duration is None or duration >= need:
        return True
    console.print(f"[dim]incident and drift chapters skipped: they need about {need:.0f} s of "
                  "traffic; run without --duration to see them[/]", highlight=False)
    return False


class _Run(StoryHooks):
    """The asynchronous part: server, example request, traffic with status, the story
    (rollout tour, incident, drift), shutdown."""

    def __init__(self, console: Console, steps: display.Steps, app: Any, *, port: int,
                 rate: float, seed: int, duration: float | None, status_every: float,
                 token: str, project: str, store: str, tokens: str,
                 scenario: Scenario | None = None) -> None:
        self.console, self.steps, self.app = console, steps, app
        self.port, self.url, self.rate, self.seed = port, "", rate, seed
        self.duration, self.status_every, self.token = duration, status_every, token
        self.project, self.store, self.tokens = project, store, tokens
        self.stop = asyncio.Event()
        self.stats = TrafficStats()
        self.server: BackgroundServer | None = None
        self.tour: Tour | None = None
        self.chapters: list[Chapter] = []
        self.current: Chapter | None = None
        self.scenario = scenario or Scenario(seed=seed + 1)
        self.watcher: AlarmWatcher | None = None
        self.reviewed = ReviewerStats()
        self.model = MODEL
        self.reviewer_accuracy, self.reviewer_seconds = REVIEWER_ACCURACY, REVIEWER_SECONDS
        self.stop_after_tour = False
        self.ended_by = "duration"  # DemoResult.ended_by
        self.started = time.perf_counter()  # run_demo sets it to its own start

    def _interrupt(self) -> None:
        if self.stop.is_set():
            if self.server is not None:
                self.server.server.force_exit = True  # a second Ctrl-C: stop waiting
            return
        self.console.print("\n[yellow]stopping…[/] (Ctrl-C again to skip the graceful wait)")
        self.ended_by = "interrupt"
        self.stop.set()

    async def main(self) -> TrafficStats:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self._interrupt)
            handles_sigint = True
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
            handles_sigint = False
        try:
            await self._serve()
        finally:
            if handles_sigint:
                loop.remove_signal_handler(signal.SIGINT)
        return self.stats

    async def _serve(self) -> None:
        with self.steps.step("server", "starting the server on 127.0.0.1") as note:
            server = self.server = BackgroundServer(self.app, port=self.port)
            await asyncio.to_thread(server.start)
            busy = f" (port {self.port} was busy)" if self.port not in (0, server.port) else ""
            self.port, self.url = server.port, server.url
            note(f"{server.url}{busy} · dashboard: {server.url}/")
        try:
            async with httpx.AsyncClient(base_url=server.url, trust_env=False,
                                         timeout=10.0) as client:
                (await client.get("/readyz")).raise_for_status()
                await self._first_request(client)
                if not self.stop.is_set():
                    await self._traffic(client)
        finally:
            with self.steps.step("shutdown", "stopping; the prediction log drains") as note:
                await asyncio.to_thread(server.stop)
                note("server stopped, prediction log drained")

    async def _first_request(self, client: httpx.AsyncClient) -> None:
        """One example prediction, then what to open and try."""
        example = LoanGenerator(self.seed + 2).records(1)[0]
        record = {k: example[k] for k in FEATURES}
        response = await client.post(f"/v1/models/{MODEL}/predict", json=record,
                                     headers={"x-request-key": "user-7"})
        response.raise_for_status()
        self._show_tour(record, response.json(), example[LABEL])

    def _show_tour(self, record: dict[str, Any], response: dict[str, Any], label: Any) -> None:
        until = f"for {self.duration:g} s" if self.duration is not None else "until Ctrl-C"
        traffic = (f"~{self.rate:g} predictions/s {until}; 80% get their true label 2-10 s "
                   "later; ~1% are bad on purpose (422)")
        commands = display.try_commands(self.url, MODEL, record, response, label, self.token,
                                        self.project, tour=self.tour is not None)
        display.show_tour(self.console, url=self.url, model=MODEL, project=self.project,
                          store=self.store, tokens=self.tokens, traffic=traffic,
                          commands=commands)
        during = " (after the rollout tour)" if self.tour is not None else ""
        self.console.print(f"\nlive status every {self.status_every:g} s{during}; Ctrl-C stops "
                           "the demo", highlight=False)

    def _launch(self, truths: dict[str, Any]) -> tuple[asyncio.Task[TrafficStats],
                                                       list[asyncio.Task[Any]]]:
        """Start the traffic: the main model's (its stats are the demo's), and others."""
        def progress(stats: TrafficStats) -> None:
            self.stats = stats

        speaking = asyncio.create_task(drive(
            self.url, speech.PIPELINE, self.scenario.speech(), rate_per_s=SPEECH_RATE,
            stop=self.stop, seed=self.seed + 5, bad_fraction=0.0, event_rates={},
            duration_s=FOREVER_S if self.duration is None else self.duration,
            features=SPEECH_FEATURES, label=TRANSCRIPT))
        traffic = asyncio.create_task(drive(
            self.url, MODEL, self.scenario.records(),
            rate_per_s=self.rate, stop=self.stop, seed=self.seed, on_progress=progress,
            duration_s=FOREVER_S if self.duration is None else self.duration, truths=truths))
        return traffic, [speaking]

    def _truth(self, truths: dict[str, Any]) -> Any:
        """What the simulated reviewer knows of an item: the true outcome by request id."""
        return lambda item: truths.get(str(item["id"]))

    async def _traffic(self, client: httpx.AsyncClient) -> None:
        truths: dict[str, Any] = {}
        traffic, others = self._launch(truths)
        reviewing = asyncio.Event()
        reviewer = asyncio.create_task(self._review(client, truths, reviewing))
        story = asyncio.create_task(self._story()) if self.chapters else None
        watching = asyncio.Event()
        watcher = (asyncio.create_task(self.watcher.run(watching))
                   if self.watcher is not None else None)
        next_status = time.monotonic() + self.status_every
        while not traffic.done():
            waiting: set[asyncio.Task[Any]] = {traffic}
            if story is not None and not story.done():
                waiting.add(story)
            await asyncio.wait(waiting, timeout=max(0.0, next_status - time.monotonic()),
                               return_when=asyncio.FIRST_COMPLETED)
            if story is not None and story.done() and self.stop_after_tour:
                self.ended_by = "story"
                self.stop.set()
            if not traffic.done() and time.monotonic() >= next_status:
                next_status = time.monotonic() + self.status_every
                if story is None or story.done() or self.current is not self.tour:
                    # the tour prints its own progress; the other chapters want the numbers
                    self.console.print(await self._status(client), highlight=False,
                                       soft_wrap=True)
        self.stats = traffic.result()
        if story is not None:
            await self._end_story(story)
        if watcher is not None:
            watching.set()
            await watcher
        reviewing.set()
        await reviewer
        for task in others:
            with contextlib.suppress(httpx.HTTPError):
                await task

    async def _review(self, client: httpx.AsyncClient, truths: dict[str, Any],
                      stop: asyncio.Event) -> None:
        """A simulated person working through the review queue (the model is at
        ``partial``): knows the true outcome, is right 95% of the time."""
        seed = self.seed
        while not stop.is_set():
            try:
                await review(
                    self.url, self.model, reviewer="demo-reviewer", client=client, stop=stop,
                    truth=self._truth(truths), seed=seed,
                    accuracy=self.reviewer_accuracy, seconds_per_item=self.reviewer_seconds,
                    stats=self.reviewed)  # counted live: the epilogue reads it
            except httpx.HTTPError:  # a hiccup (e.g. at shutdown): take a breath, go on
                seed += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
