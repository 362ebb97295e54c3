"""``rampup demo --scenario speech``: the course's speech recogniser, live.

A VAD and an ASR (:mod:`rampup_demo.speech_models`, both pocketsphinx) are versions in
rampup's registry behind the pipeline ``transcribe`` (``vad`` → ``asr``); clips are
synthesized at run time by espeak-ng with room noise mixed in
(:mod:`rampup_demo.speech_audio`) and sent as WAV to the pipeline. The pipeline's
automation audits a share of its transcripts: a simulated transcriber works the review
queue over the review API, typing what was really said, and those transcripts are the
labels the word error rate is computed from. Then the story
(:mod:`rampup_demo.speech_story`) runs.

It reuses the loan demo's machinery: the project folder and tokens
(:mod:`rampup_demo.runner`), the in-process server, the load generator
(:func:`rampup_demo.traffic.drive`), the simulated reviewer
(:func:`rampup_demo.reviewer.review`), the alarm watcher, the rollout follower and the
epilogue.

Sizing: pocketsphinx decodes about a clip a second per core, so the traffic is 0.5
clips/s by default; the whole story takes about 9 minutes on a loaded 2-CPU machine.

>>> row = next(records(ClipSource(seed=0, silence_share=1.0)))
>>> row["transcript"], row["audio"][:5]
('no_speech', 'UklGR')
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from rich.console import Console

from rampup.config import Settings
from rampup.errors import ConflictError, ValidationError
from rampup.project import load_project
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database
from rampup_demo import display, epilogue
from rampup_demo.alarms import AlarmWatcher
from rampup_demo.reviewer import ReviewerStats, review
from rampup_demo.rollout_tour import Tour, TourPlan
from rampup_demo.runner import (
    ALERTS_INTERVAL_S,
    CONTROLLER_INTERVAL_S,
    DRIFT_CHECK_S,
    MARKER,
    MONITOR_FLUSH_S,
    MONITOR_WINDOW_S,
    write_tokens,
)
from rampup_demo.runner import _quiet_logs as quiet_logs
from rampup_demo.server import HOST, BackgroundServer
from rampup_demo.speech_audio import (
    ESPEAK,
    INSTALL_HINT,
    ClipSource,
    SpeechUnavailable,
    espeak_available,
)
from rampup_demo.speech_story import (
    ASR,
    PIPELINE,
    VAD,
    Context,
    SpeechPlan,
    alert_rules,
)
from rampup_demo.speech_story import chapters as story_chapters
from rampup_demo.story import yaml_block
from rampup_demo.traffic import TrafficStats, drive

NO_SPEECH = "no_speech"  # what the transcriber types for a clip without speech
REFERENCE_CLIPS = 40
MODELS = "rampup_demo.speech_models"
_OWNED = ("rampup.yaml", "rampup.db", "rampup.db-wal", "rampup.db-shm", "tokens.txt",
          "data", "artifacts", "input-bytes", MARKER)
TRANSCRIBER = "demo-transcriber"
TRANSCRIBER_SECONDS = (0.3, 1.0)  # typing a short sentence (a fast typist)

PROJECT_YAML = """\
# Written by 'rampup demo --scenario speech' (rewritten on each run).
name: speech-demo
artifacts_dir: artifacts

models:
  vad:
    description: voice activity detection (pocketsphinx's WebRTC-derived VAD)
  asr:
    description: speech recognition (pocketsphinx with its shipped en-US model)
  transcribe:
    description: "vad -> asr: a clip in, its transcript out"
    pipeline:
      stages:
        - model: vad
          stop_when: "label == 'no_speech'"   # no speech heard: answer no_speech, skip asr
        - model: asr
    automation:                        # every answer is given; a share is audited
      level: full
      audit_rate: {audit:g}               # the transcriber types what was really said
{alerts}"""


def records(source: ClipSource) -> Iterator[dict[str, Any]]:
    """Request records (base64 WAV) with the true transcript, as the world is now."""
    while True:
        data, text = source.clip()
        yield {"audio": base64.b64encode(data).decode(), "transcript": text or NO_SPEECH}


def check_speech_tools() -> None:
    """Fail early, saying how to install what is missing."""
    if not espeak_available():
        raise ValidationError(f"the speech scenario synthesizes its clips with {ESPEAK}, "
                              "which is not installed", fix=INSTALL_HINT)
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        raise ValidationError("the speech scenario's models are pocketsphinx's, which is "
                              "not installed", fix="pip install 'rampup[speech]'") from None


def prepare_project(root: Path, *, fresh: bool, plan: SpeechPlan) -> bool:
    """Create (or reuse) the speech demo's folder; True when reused."""
    is_demo = (root / MARKER).exists()
    if (root / "rampup.yaml").exists() and not is_demo:
        raise ConflictError(f"{root} holds a rampup project the demo did not create",
                            fix="pass another --dir for the demo")
    if fresh and is_demo:
        for name in _OWNED:
            path = root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    reused = (root / MARKER).exists()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("created by 'rampup demo --scenario speech'\n", encoding="utf-8")
    (root / "artifacts").mkdir(exist_ok=True)
    text = PROJECT_YAML.format(audit=plan.audit_rate,
                               alerts=yaml_block({"alerts": alert_rules(plan)}, 4))
    (root / "rampup.yaml").write_text(text, encoding="utf-8")
    return reused


def write_reference(data: Path, seed: int, n: int = REFERENCE_CLIPS) -> Path:
    """The launch's clips (adult voices, the old microphone) as WAV files and a manifest:
    the VAD's reference data (its audio metrics' profile)."""
    manifest = data / "reference.csv"
    if manifest.exists():
        return manifest
    folder = data / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    source = ClipSource(seed=seed + 100)
    rows = []
    for i in range(n):
        wav, text = source.clip()
        (folder / f"clip-{i:03d}.wav").write_bytes(wav)
        rows.append({"audio": f"reference/clip-{i:03d}.wav", "transcript": text or NO_SPEECH})
    with (data / "transcripts.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["audio", "transcript"])
        w.writeheader()
        w.writerows(rows)
    with manifest.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["audio"])
        w.writeheader()
        w.writerows({"audio": r["audio"]} for r in rows)
    return manifest


def register(registry: Registry, data: Path, seed: int) -> list[str]:
    """vad@v1 (deployed, with the reference clips), vad@v2 (the broken threshold),
    asr@v1 (deployed) and asr@v2 (tuned); returns the versions registered now."""
    store, added = registry.store, []
    reference = write_reference(data, seed)
    for model, version, obj, ref, note in (
            (VAD, "v1", "Vad", reference, "threshold 0.2 of the frames"),
            (VAD, "v2", "VadStrictThreshold", reference, "threshold 0.95: broken on purpose"),
            (ASR, "v1", "AsrLaunch", None, "launch setting: language weight 10"),
            (ASR, "v2", "AsrTuned", None, "tuned decoder parameters: language weight 6.5")):
        if store.models.get_version(model, version) is not None:
            continue
        registry.register(model, f"{MODELS}:{obj}", version=version, flavor="python",
                          reference=ref, actor="demo", deploy=None if version == "v1" else False,
                          metadata={"note": note, "trained_by": "rampup demo (pocketsphinx)"})
        added.append(f"{model}@{version}")
    return added


def _reset(store: Database) -> None:
    """A rerun starts from vad@v1 and asr@v1."""
    from rampup.rollout.service import Rollouts
    from rampup_demo.speech_story import ACTOR, _deploy_now

    for model in (VAD, ASR):
        if Rollouts(store).active(model) is not None:
            Rollouts(store).abort(model, actor=ACTOR, reason="the speech demo starts over")
        dep = store.deployments.current_deployment(model)
        if dep is None or dep.policy.get("routes") != {"v1": 100.0}:
            _deploy_now(store, model, "v1", "the speech demo starts from v1")


@dataclass(frozen=True)
class SpeechResult:
    directory: Path
    url: str
    stats: TrafficStats
    reviewed: int
    alarms: list[dict[str, Any]]
    chapters: dict[str, Any]
    seconds: float


class SpeechRun:
    """Server, traffic, transcriber, alarm watcher and story (see the module doc)."""

    def __init__(self, console: Console, app: Any, ctx_args: dict[str, Any], *,
                 port: int, plan: SpeechPlan, seed: int, duration: float | None,
                 stop_after_story: bool) -> None:
        self.console, self.app, self.ctx_args = console, app, ctx_args
        self.port, self.plan, self.seed = port, plan, seed
        self.duration, self.stop_after_story = duration, stop_after_story
        self.stop = asyncio.Event()
        self.stats = TrafficStats()
        self.reviewed = ReviewerStats()
        self.url = ""
        self.results: dict[str, Any] = {}

    async def main(self) -> None:
        server = BackgroundServer(self.app, port=self.port)
        await asyncio.to_thread(server.start)
        self.url = server.url
        try:
            await self._run()
        finally:
            await asyncio.to_thread(server.stop)

    async def _run(self) -> None:
        c, plan = self.console, self.plan
        ctx = Context(url=self.url, **self.ctx_args)
        c.print(f"server on {self.url} · dashboard {self.url}/dashboard/models/{PIPELINE} · "
                f"review queue {self.url}/review/{PIPELINE}", highlight=False, soft_wrap=True)
        c.print(f"traffic: {plan.rate:g} clips/s to POST /v1/models/{PIPELINE}/predict "
                f"(pocketsphinx decodes about a clip a second per core); {plan.audit_rate:.0%} "
                "of the answers are audited: the transcriber types them", highlight=False,
                soft_wrap=True)
        truths: dict[str, Any] = {}
        bound = self.duration if self.duration is not None else 7 * 24 * 3600.0
        traffic = asyncio.create_task(drive(
            self.url, PIPELINE, records(ctx.source), rate_per_s=plan.rate, duration_s=bound,
            stop=self.stop, seed=self.seed, bad_fraction=0.0, event_rates={},
            label_fraction=0.0, features=("audio",), label="transcript", truths=truths,
            concurrency=4, timeout_s=120.0, on_progress=self._progress))
        done = asyncio.Event()
        transcriber = asyncio.create_task(self._transcribe(truths, done))
        watcher = asyncio.create_task(ctx.watcher.run(done))
        story = asyncio.create_task(self._story(ctx))
        while not traffic.done():
            await asyncio.wait({traffic, story} if not story.done() else {traffic},
                               timeout=20.0, return_when=asyncio.FIRST_COMPLETED)
            if story.done() and self.stop_after_story:
                self.stop.set()
            if not traffic.done():
                c.print(self._status(), highlight=False)
        self.stats = traffic.result()
        if not story.done():
            story.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await story
        else:
            story.result()
        done.set()
        await asyncio.gather(transcriber, watcher)

    def _progress(self, stats: TrafficStats) -> None:
        self.stats = stats

    def _status(self) -> str:
        s = self.stats
        p50 = s.latency.recent_quantile(0.5)
        lat = f"p50 {p50 / 1000:.1f} s" if p50 is not None else "p50 -"
        return (f"  clips sent {s.sent} · answered {s.ok} · {lat} · typed by the "
                f"transcriber {self.reviewed.decided}")

    async def _transcribe(self, truths: dict[str, Any], stop: asyncio.Event) -> None:
        """The simulated transcriber: claims audited clips, listens, types the transcript."""
        seed = self.seed
        async with httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=30.0) as c:
            while not stop.is_set():
                try:
                    await review(self.url, PIPELINE, reviewer=TRANSCRIBER, client=c,
                                 stop=stop, seed=seed, accuracy=1.0,
                                 truth=lambda item: truths.get(str(item["id"])),
                                 seconds_per_item=TRANSCRIBER_SECONDS, stats=self.reviewed)
                except httpx.HTTPError:
                    seed += 1
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)

    async def _story(self, ctx: Context) -> None:
        since = time.time()
        self.console.print(f"warming up: {self.plan.warmup_s:g} s of healthy traffic (the "
                           "baseline every chart and the cascade compare with)",
                           highlight=False)
        await asyncio.sleep(self.plan.warmup_s)
        for chapter in story_chapters(ctx, since):
            try:
                result = await chapter.run()
            except asyncio.CancelledError:
                note = await asyncio.to_thread(chapter.cut)
                if note:
                    self.console.print(note)
                raise
            self.results[type(chapter).__name__] = result
        self.console.rule("[bold]the end[/]")
        await asyncio.to_thread(ctx.watcher.poll)
        rollouts = []
        for model in (VAD, ASR):
            rows = await asyncio.to_thread(ctx.store.rollouts.list_rollouts, model, limit=20)
            rollouts += [{**r, "candidate": f"{model}@{r['candidate']}"} for r in rows
                         if float(r["created_at"]) >= ctx.watcher.since]
        self.console.print(epilogue.summary(
            rollouts=rollouts, alarms=ctx.watcher.seen, runs=[], reviewed=self.reviewed.decided,
            queued=None, seconds=time.time() - ctx.watcher.since), highlight=False)


def run_speech_demo(directory: Path, *, port: int = 8000, duration: float | None = None,
                    seed: int = 0, fresh: bool = False, console: Console | None = None,
                    plan: SpeechPlan | None = None, stop_after_story: bool = False,
                    ) -> SpeechResult:
    """Run the speech scenario (see the module doc) until Ctrl-C, ``duration`` seconds of
    traffic, or — with ``stop_after_story`` — the end of the story."""
    started = time.perf_counter()
    console = console or Console()
    plan = plan or SpeechPlan()
    check_speech_tools()
    root = Path(directory).resolve()
    steps = display.Steps(console)
    with steps.step("project", "preparing the speech project folder") as note:
        reused = prepare_project(root, fresh=fresh, plan=plan)
        note(f"{'reused' if reused else 'created'} {display.relative(root)}")
    token, tokens_file = write_tokens(root)
    store_url = f"sqlite:///{root / 'rampup.db'}"
    settings = Settings(project_dir=root, artifacts_dir=Path("artifacts"), database_url=store_url,
                        admin_token=SecretStr(token), predict_token=None, host=HOST, port=port,
                        controller=True, controller_interval=CONTROLLER_INTERVAL_S,
                        monitor_window_s=MONITOR_WINDOW_S, monitor_flush_interval=MONITOR_FLUSH_S,
                        alerts_interval=ALERTS_INTERVAL_S, drift_check_interval=DRIFT_CHECK_S,
                        input_bytes_dir=root / "input-bytes",
                        controller_min_requests=plan.judge_min_requests)
    store = Database.open(store_url)
    try:
        registry = Registry.from_settings(settings, store)
        with steps.step("models", "synthesizing reference clips, registering vad and asr") \
                as note:
            try:
                added = register(registry, root / "data", seed)
            except SpeechUnavailable as exc:
                raise ValidationError(str(exc), fix=INSTALL_HINT) from None
            _reset(store)
            note(f"registered {', '.join(added)}" if added else "reused vad@v1/v2, asr@v1/v2")
        source = ClipSource(seed=seed + 1)
        app = create_app(settings, load_project(root / "rampup.yaml"), load=registry.load)
        watcher = AlarmWatcher(store, console, PIPELINE)
        follower = Tour(store, registry, console, model=ASR, data=root / "data",
                        project=display.relative(root), plan=TourPlan(timeout_s=plan.wait_s),
                        rate=plan.rate)
        run = SpeechRun(console, app, {
            "store": store, "registry": registry, "console": console, "watcher": watcher,
            "source": source, "plan": plan, "data": root / "data", "follow": follower.follow,
            "token": token, "bytes_dir": settings.input_bytes_dir}, port=port, plan=plan,
            seed=seed, duration=duration, stop_after_story=stop_after_story)
        with quiet_logs():
            asyncio.run(run.main())
    finally:
        store.close()
    console.print(f"tokens: {display.relative(tokens_file)} · store: "
                  f"{display.relative(root / 'rampup.db')}", highlight=False)
    return SpeechResult(directory=root, url=run.url, stats=run.stats,
                        reviewed=run.reviewed.decided, alarms=list(watcher.seen),
                        chapters={k: json.loads(json.dumps(v.__dict__, default=str))
                                  for k, v in run.results.items()},
                        seconds=round(time.perf_counter() - started, 3))
