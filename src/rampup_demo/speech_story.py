"""The speech scenario's story: a canary, a broken VAD threshold, new users and a new
microphone, and a tuning run where retraining is out of reach.

* :class:`AsrCanary` — ``asr@v2`` (decoder parameters tuned on the demo's clips) goes
  out as a canary of the pipeline's ``asr`` stage (50%, then 100%); the rollout
  controller judges the stage's own predictions and promotes it.
* :class:`BrokenVad` — someone deploys ``vad@v2``, the same detector with its threshold
  set far too high, straight to all traffic. The VAD stage calls most speech silence,
  so ``vad-silence`` fires, the pipeline answers ``no_speech`` to people who spoke and
  ``wer-high`` fires once the transcriber's labels arrive. The cascade view
  (``rampup monitor cascade transcribe``) names ``vad`` as the stage that changed first;
  vad goes back to v1 and both alarms resolve.
* :class:`NewUsers` — the course's "teenagers" (higher, faster espeak voices) arrive
  with a new microphone (hotter gain, a noisier room): ``audio-level`` fires on the VAD
  stage's audio metrics at once (the clips' RMS level, far above the reference's);
  ``wer-high`` fires later, once typed transcripts show what the new audio does to the
  recogniser.
* :class:`Tuning` — retraining pocketsphinx's acoustic model needs hours of transcribed
  audio and SphinxTrain: out of reach here, and the chapter says so. Instead a tuning run
  searches decoder parameters on the clips the transcriber labelled since the users
  changed, registers the best as a new ``asr`` version and canaries it.

The rules live in the demo's ``rampup.yaml`` (:func:`alert_rules`).

>>> [r["name"] for r in alert_rules(SpeechPlan())]
['vad-silence', 'audio-level', 'wer-high']
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.markup import escape

from rampup.errors import RampupError
from rampup.registry.registry import Registry
from rampup.rollout.machine import Rollout
from rampup.rollout.plan import Plan, Step
from rampup.rollout.policy import DeploymentPolicy
from rampup.rollout.service import Rollouts
from rampup.store import Database
from rampup_demo.alarms import AlarmWatcher
from rampup_demo.speech_audio import NEW_MIC, TEEN_VOICES, ClipSource, read_wav
from rampup_demo.speech_models import TUNING_GRID, AsrTuned, tune, write_tuned

PIPELINE, VAD, ASR = "transcribe", "vad", "asr"
ACTOR = "speech-demo"
#: A judged WER comparison needs hundreds of labelled clips per version: hours at a clip
#: every two seconds. The speech canary guards against a version that fails clips (the
#: always-valid interval rules out a 50% failure rate after ~25 clean predictions; 30%
#: took over 45 in a measured run) and the story shows each version's live WER beside it.
CANARY_CHECKS = ("error_rate <= 0.5",)
JUDGE_MIN_REQUESTS = 20  # the server's judge minimum in this demo (default 100)

Follow = Callable[[Rollout], Awaitable[Rollout]]


@dataclass(frozen=True)
class SpeechPlan:
    """The story's sizes (the slow test shrinks them). ``rate`` is sized to pocketsphinx
    on a loaded 2-CPU machine: about a clip a second per core, and the VAD, the reviewer
    and the server need some of it."""

    rate: float = 0.5  # clips per second
    window_s: float = 40.0  # the alert rules' windows
    warmup_s: float = 45.0  # healthy traffic before the story (the cascade's baseline)
    canary_weights: tuple[float, ...] = (50.0, 100.0)
    canary_min_requests: int = 10
    canary_hold_s: float = 20.0
    canary_checks: tuple[str, ...] = CANARY_CHECKS
    judge_min_requests: int = JUDGE_MIN_REQUESTS  # the server's judge minimum (default 100)
    wait_s: float = 300.0  # longest wait for an alarm to fire or resolve
    broken_min_s: float = 30.0
    audit_rate: float = 0.6  # share of transcripts the transcriber types
    wer_threshold: float = 0.6
    silence_threshold: float = 0.6
    level_threshold: float = -22.0  # dBFS; the reference clips average about -31
    tuning_clips: int = 12
    tuning_configs: int = 4  # + asr@v2's own setting: ~60 decodes, 2-4 min on a busy machine
    tune: bool = True

    def canary_plan(self) -> Plan:
        return Plan(strategy="canary", checks=list(self.canary_checks), steps=[
            Step(kind="canary", weight=w, min_duration_s=self.canary_hold_s,
                 min_requests=self.canary_min_requests) for w in self.canary_weights])

    def estimate_s(self) -> float:
        """Roughly how long the story takes (an idle machine is faster)."""
        canary = len(self.canary_weights) * max(self.canary_hold_s,
                                                self.canary_min_requests / self.rate)
        return self.warmup_s + 2 * canary + 4 * self.window_s + 120.0


def alert_rules(plan: SpeechPlan) -> list[dict[str, Any]]:
    """The pipeline's alert rules (``stage`` rules watch that stage's windows)."""
    w = f"{plan.window_s:g}s"
    return [
        {"name": "vad-silence", "stage": VAD, "severity": "critical", "window": w, "for": "5s",
         "condition": f"class_share[no_speech] > {plan.silence_threshold:g}",
         "description": "the VAD calls most clips silence: people who speak get no answer"},
        {"name": "audio-level", "stage": VAD, "severity": "warning", "window": w, "for": "5s",
         "condition": f"feature[audio.rms_dbfs].mean > {plan.level_threshold:g}",
         "description": "the clips are much louder than the reference ones (about -31 dBFS "
                        "on average): a new microphone or new users"},
        # WER over few typed clips is noisy: a longer window and hold than the others
        {"name": "wer-high", "severity": "critical", "window": f"{1.5 * plan.window_s:g}s",
         "for": "10s",
         "condition": f"wer > {plan.wer_threshold:g}",
         "description": "word error rate of the typed transcripts above "
                        f"{plan.wer_threshold:.0%}"},
    ]


@dataclass
class ChapterResult:
    fired: dict[str, float] = field(default_factory=dict)
    resolved: dict[str, float] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Context:
    """What every chapter uses: the server, the store, the clips the traffic sends."""

    url: str
    store: Database
    registry: Registry
    console: Console
    watcher: AlarmWatcher
    source: ClipSource
    plan: SpeechPlan
    data: Path
    follow: Follow
    token: str = ""
    bytes_dir: Path | None = None  # RAMPUP_INPUT_BYTES_DIR: the audio the server kept

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)


async def _roll_out(ctx: Context, model: str, version: str, reason: str) -> str:
    try:
        r = await asyncio.to_thread(Rollouts(ctx.store).deploy, model, version,
                                    plan=ctx.plan.canary_plan(), actor=ACTOR, reason=reason)
    except RampupError as exc:
        ctx.say(f"[red]could not deploy {model}@{version}:[/] {escape(exc.message)}")
        return "refused"
    if r is None:
        return "deployed"
    return (await ctx.follow(r)).state


async def live_wer(ctx: Context, since: float, asr_versions: list[str]) -> dict[str, float]:
    """The end-to-end WER of the typed transcripts since ``since`` per asr version (vad
    at v1), from the monitor's windows."""
    out: dict[str, float] = {}
    headers = {"authorization": f"Bearer {ctx.token}"} if ctx.token else {}
    async with httpx.AsyncClient(base_url=ctx.url, timeout=30.0, trust_env=False) as c:
        for v in asr_versions:
            try:
                r = await c.get(f"/v1/models/{PIPELINE}/metrics", headers=headers, params={
                    "metric": "wer", "version": f"v1+{v}", "since": f"epoch:{since:.0f}"})
                value = r.json()["summary"]["wer"]
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                continue
            if value is not None:
                out[v] = float(value)
    return out


def wer_text(wers: dict[str, float]) -> str:
    """
    >>> wer_text({"v1": 0.41, "v2": 0.35})
    'live WER of the typed transcripts: asr@v1 41.0%, asr@v2 35.0%'
    """
    if not wers:
        return "live WER: no typed transcripts yet"
    return "live WER of the typed transcripts: " + ", ".join(
        f"asr@{v} {w:.1%}" for v, w in wers.items())


class AsrCanary:
    """asr@v2 as a canary of the pipeline's asr stage (see the module doc)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.result = ctx, ChapterResult()

    async def run(self) -> ChapterResult:
        ctx, t0 = self.ctx, time.monotonic()
        ctx.console.rule("[bold]canary[/]: a better-tuned recogniser")
        ctx.say("asr@v1 launched with a language weight set too high (10): the decoder forces "
                "its language model on the audio. asr@v2 has the decoder re-tuned on the demo's "
                "clips (language weight 6.5; WER 35% against 56% on 16 held-out clips). It goes "
                "out as a canary of the pipeline's asr stage: the stage's router splits its "
                "traffic and the controller judges the stage's own predictions ('rampup "
                "rollout status asr').")
        self.result.notes["state"] = await _roll_out(ctx, ASR, "v2", "speech demo: tuned "
                                                     "decoder parameters")
        wers = await live_wer(ctx, ctx.watcher.since, ["v1", "v2"])
        self.result.notes["wer"] = wers
        ctx.say(f"{wer_text(wers)} (the canary guards against failures; a judged WER "
                "comparison would need hundreds of typed clips per version)")
        self.result.seconds = time.monotonic() - t0
        return self.result

    def cut(self) -> str | None:
        return None


def _deploy_now(store: Database, model: str, version: str, reason: str) -> None:
    store.deployments.append_deployment(model, DeploymentPolicy.single(version).to_dict(), ACTOR,
                                        reason)


#: What the cascade watches on each stage: what the stage answers, not how fast. On a
#: loaded 2-CPU machine every stage's latency jumps with the load (the VAD's 3 ms median
#: doubles in a busy window), so a latency "departure" names a stage at random.
STAGE_METRICS = ("error_rate", "null_fraction", "confidence_mean", "class_share[speech]",
                 "class_share[no_speech]")
WATCHED = "class_share[no_speech]"  # the VAD's metric whose baseline the chapter waits for
SWITCH_LEAD_S = 3.0  # the VAD switches this long before a window boundary (see BrokenVad)


def cascade_step(plan: SpeechPlan, since: float, baseline_until: float) -> int:
    """The cascade's window: windows of a few clips are noisy, so as long as the
    baseline allows (6 of them at least), up to half the alert window, in whole monitor
    windows (10 s).

    >>> cascade_step(SpeechPlan(), 0.0, 50.0), cascade_step(SpeechPlan(), 0.0, 130.0)
    (10, 20)
    """
    span = (baseline_until - since) / 6.0
    return int(max(10.0, min(plan.window_s / 2.0, span)) // 10 * 10)


async def cascade(ctx: Context, since: float, baseline_until: float) -> dict[str, Any] | None:
    """The cascade report of the pipeline on the monitor's windows since ``since``, the
    stages judged on :data:`STAGE_METRICS` against ``since..baseline_until``."""
    step = cascade_step(ctx.plan, since, baseline_until)
    params = {"metric": "wer", "since": f"epoch:{since:.0f}", "step": f"{step}s", "for": "2",
              "threshold": "3", "stage_metric": ",".join(STAGE_METRICS),
              "baseline": f"epoch:{since:.0f}..epoch:{baseline_until:.0f}"}
    headers = {"authorization": f"Bearer {ctx.token}"} if ctx.token else {}
    try:
        async with httpx.AsyncClient(base_url=ctx.url, timeout=30.0, trust_env=False) as c:
            r = await c.get(f"/v1/models/{PIPELINE}/cascade", params=params, headers=headers)
            r.raise_for_status()
            body: dict[str, Any] = r.json()
            return body
    except (httpx.HTTPError, ValueError):
        return None


def baseline_windows(report: dict[str, Any], stage: str = VAD, metric: str = WATCHED) -> int:
    """Windows with data of ``stage``'s ``metric`` in the report's baseline period.

    >>> r = {"baseline": {"since": 10.0, "until": 40.0}, "stages": [{"stage": "vad",
    ...      "metrics": [{"metric": WATCHED, "series": [[0, .1], [10, .1], [20, None],
    ...                                                   [30, .2], [40, .9]]}]}]}
    >>> baseline_windows(r)
    2
    """
    b0, b1 = report["baseline"]["since"], report["baseline"]["until"]
    for s in report.get("stages", []):
        for m in s.get("metrics", []) if s.get("stage") == stage else []:
            if m.get("metric") == metric:
                return sum(1 for t, v in m["series"] if b0 <= t < b1 and v is not None)
    return 0


async def wait_for_baseline(ctx: Context, since: float) -> tuple[int, int]:
    """Wait (at most ``wait_s``) until the VAD's windows since ``since`` make a baseline
    the cascade judges against: ``min_baseline`` whole windows with data. Fewer, and the
    cascade gives no verdict at all, however far the stage departs afterwards (a fast
    canary chapter or a busy machine can leave the story a window short). Returns
    (windows, windows needed)."""
    deadline = time.monotonic() + ctx.plan.wait_s
    while True:
        now = time.time()
        step = cascade_step(ctx.plan, since, now)
        until = now // step * step  # whole windows only
        report = await cascade(ctx, since, until) if until > since + 1.0 else None
        have = baseline_windows(report) if report else 0
        need = int(report["method"]["min_baseline"]) if report else 5
        if have >= need or time.monotonic() >= deadline:
            return have, need
        await asyncio.sleep(2.0)


def switch_delay(now: float, step: float, lead: float = SWITCH_LEAD_S) -> float:
    """Seconds from ``now`` to ``lead`` seconds before the next window boundary at least
    that far off.

    >>> switch_delay(101.0, 10), switch_delay(108.0, 10)
    (6.0, 9.0)
    """
    target = (now // step + 1) * step - lead
    return target - now if target > now else target + step - now


def cascade_text(report: dict[str, Any] | None) -> str:
    """One line on which stage changed first.

    >>> cascade_text({"first": "vad", "explained": True, "stages": [{"stage": "vad",
    ...     "changed_metrics": ["class_share[no_speech]"]}]})
    'cascade: vad changed first (class_share[no_speech]), no later than the end-to-end wer'
    >>> cascade_text(None)
    'cascade: not available yet'
    >>> cascade_text({"first": None, "baseline": {"since": 0, "until": 30},
    ...     "method": {"min_baseline": 5}, "stages": [{"stage": "vad", "metrics": [
    ...     {"metric": WATCHED, "series": [[0, .1], [10, .1], [20, .2], [30, 1.0]]}]}]})
    'cascade: no verdict, the baseline holds 3 windows of the 5 it needs'
    """
    if not report:
        return "cascade: not available yet"
    first = report.get("first")
    if first is None:
        need = int((report.get("method") or {}).get("min_baseline", 0))
        have = baseline_windows(report) if "baseline" in report else need
        if have < need:
            return (f"cascade: no verdict, the baseline holds {have} windows of the {need} "
                    "it needs")
        return "cascade: no stage departed from its baseline yet"
    metrics = list(dict.fromkeys(next((s.get("changed_metrics") or [] for s in
                                       report.get("stages", []) if s.get("stage") == first),
                                      [])))
    when = ("no later than the end-to-end wer" if report.get("explained")
            else "after the end-to-end wer moved")
    return f"cascade: {first} changed first ({', '.join(metrics[:3])}), {when}"


class BrokenVad:
    """vad@v2, a threshold set far too high, deployed straight to all traffic."""

    rules = ("vad-silence", "wer-high")

    def __init__(self, ctx: Context, since: float) -> None:
        self.ctx, self.since, self.result = ctx, since, ChapterResult()

    async def run(self) -> ChapterResult:
        ctx, t0, plan = self.ctx, time.monotonic(), self.ctx.plan
        ctx.console.rule("[bold]incident[/]: a VAD threshold set far too high")
        ctx.say("Someone deploys vad@v2 straight to all traffic: the same detector, its "
                "speech threshold raised from 0.2 to 0.95 of the frames. It now calls most "
                "speech silence, so the pipeline stops there and answers 'no_speech'.")
        # the cascade judges each stage against its own baseline: the healthy windows
        # since the story began (at least min_baseline of them, else no verdict at all)
        have, need = await wait_for_baseline(ctx, self.since)
        if have < need:
            ctx.say(f"[yellow]the cascade's baseline holds {have} windows of {need}[/]")
        # switch a few seconds before a window boundary: the window holding the switch
        # counts in the baseline, the next ones hold the broken VAD's clips only
        now = time.time()
        await asyncio.sleep(switch_delay(now, cascade_step(plan, self.since, now)))
        broke_at = time.time()
        await asyncio.to_thread(_deploy_now, ctx.store, VAD, "v2",
                                "speech demo: a threshold change pushed without a rollout")
        self.result.fired = await ctx.watcher.wait_for(list(self.rules), "firing", plan.wait_s)
        missing = [r for r in self.rules if r not in self.result.fired]
        if missing:
            ctx.say(f"[yellow]{', '.join(missing)} did not fire within {plan.wait_s:g} s[/]")
        await asyncio.sleep(max(0.0, plan.broken_min_s - (time.time() - broke_at)))
        # the cascade judges whole monitor windows: wait until a stage has departed for
        # the windows it needs (or give up after wait_s)
        report = await cascade(ctx, self.since, broke_at)
        deadline = time.monotonic() + plan.wait_s
        while (report is None or report.get("first") is None) and time.monotonic() < deadline:
            await asyncio.sleep(5.0)
            report = await cascade(ctx, self.since, broke_at)
        self.result.notes["cascade_first"] = report.get("first") if report else None
        command = (f"rampup monitor cascade {PIPELINE} --metric wer --stage-metric "
                   f"{WATCHED} ...")
        ctx.say(f"{escape(cascade_text(report))} ('{escape(command)}', or the {PIPELINE} "
                "page of the dashboard).")
        await asyncio.to_thread(_deploy_now, ctx.store, VAD, "v1",
                                "speech demo: back to the VAD's working threshold")
        ctx.say("vad goes back to v1; the alarms resolve once their windows hold healthy "
                "traffic only.")
        self.result.resolved = await ctx.watcher.wait_for(list(self.rules), "resolved",
                                                          plan.wait_s)
        self.result.seconds = time.monotonic() - t0
        return self.result

    def cut(self) -> str | None:
        _deploy_now(self.ctx.store, VAD, "v1", "speech demo cut short: VAD back to v1")
        return None


class NewUsers:
    """Higher, faster voices and a new microphone (see the module doc). The world stays
    changed: that is what the tuning run is for."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.result = ctx, ChapterResult()
        self.started = 0.0

    async def run(self) -> ChapterResult:
        ctx, t0, plan = self.ctx, time.monotonic(), self.ctx.plan
        ctx.console.rule("[bold]new users[/]: teenagers, and a new microphone")
        ctx.say("The assistant launches for teenagers: higher, faster voices "
                f"({', '.join(v.name for v in TEEN_VOICES)} at ~210 words/min), on a new "
                f"microphone with {NEW_MIC.gain_db:+g} dB of gain in a noisier room. The "
                "audio metrics (rms_dbfs, peak, duration, silence) move at once; the word "
                "error rate shows only as the transcriber types what was really said.")
        self.started = time.time()
        ctx.source.voices, ctx.source.mic = TEEN_VOICES, NEW_MIC
        fired = await ctx.watcher.wait_for(["audio-level"], "firing", plan.wait_s)
        fired.update(await ctx.watcher.wait_for(["wer-high"], "firing", plan.wait_s))
        self.result.fired = fired
        for rule in ("audio-level", "wer-high"):
            if rule not in fired:
                ctx.say(f"[yellow]{rule} did not fire within {plan.wait_s:g} s[/]")
        self.result.seconds = time.monotonic() - t0
        return self.result

    def cut(self) -> str | None:
        return None


def clip_bytes(value: Any, bytes_dir: Path | None) -> bytes | None:
    """The WAV bytes of an item's audio input: its ``data:`` URL while queued, else the
    file ``RAMPUP_INPUT_BYTES_DIR`` kept under its content hash (None when neither)."""
    if isinstance(value, str):
        return base64.b64decode(value.split(",", 1)[-1])
    if not isinstance(value, dict):
        return None
    data = value.get("data")
    if isinstance(data, str):
        return base64.b64decode(data.split(",", 1)[-1])
    sha, fmt = value.get("sha256"), str(value.get("format") or "wav").lower()
    if bytes_dir is None or not isinstance(sha, str):
        return None
    path = bytes_dir / sha[:2] / f"{sha}.{fmt}"
    return path.read_bytes() if path.is_file() else None


def labelled_clips(store: Database, since: float, limit: int, bytes_dir: Path | None
                   ) -> list[tuple[Any, str]]:
    """(samples, typed transcript) of the newest clips the transcriber decided since
    ``since``: the label from the review item, the audio kept by the server."""
    items = store.review.list_review_items(PIPELINE, statuses=["decided"], since=since,
                                           limit=10_000)
    out: list[tuple[Any, str]] = []
    for item in sorted(items, key=lambda i: -float(i.get("created_at") or 0)):
        label = item.get("final_label")
        data = clip_bytes((item.get("inputs") or {}).get("audio"), bytes_dir)
        if data is None or not isinstance(label, str):
            continue
        samples, _ = read_wav(data)
        out.append((samples, "" if label == "no_speech" else label))
        if len(out) >= limit:
            break
    return out


class Tuning:
    """A decoder-parameter search on the newly labelled clips, then its canary."""

    def __init__(self, ctx: Context, users: NewUsers) -> None:
        self.ctx, self.users, self.result = ctx, users, ChapterResult()

    async def run(self) -> ChapterResult:
        ctx, t0, plan = self.ctx, time.monotonic(), self.ctx.plan
        ctx.console.rule("[bold]tuning[/]: where retraining is out of reach")
        ctx.say("Retraining would fix this properly: adapt pocketsphinx's acoustic model to "
                "the new voices and microphone. That needs hours of transcribed audio and "
                "SphinxTrain, out of reach for this demo. What is in reach: tune the "
                "decoder on the clips the transcriber typed since the users changed, and "
                "roll out the best setting. Expect a partial recovery, not a cure.")
        deadline = time.monotonic() + plan.wait_s
        clips: list[tuple[Any, str]] = []
        while time.monotonic() < deadline:
            clips = await asyncio.to_thread(labelled_clips, ctx.store, self.users.started,
                                            plan.tuning_clips, ctx.bytes_dir)
            if len(clips) >= plan.tuning_clips:
                break
            await asyncio.sleep(2.0)
        speech = [(x, t) for x, t in clips if t]
        if not speech:
            ctx.say("[yellow]no labelled speech to tune on yet[/]")
            return self.result
        current = AsrTuned.params
        grid = [dict(current), *(g for g in _spread(TUNING_GRID, plan.tuning_configs)
                                 if g != current)]
        ctx.say(f"tuning run: {len(grid)} decoder settings x {len(speech)} typed clips "
                f"(~{len(grid) * len(speech)} decodes; a few minutes on a busy 2-CPU machine)")
        scored = await asyncio.to_thread(tune, speech, grid)
        for params, wer in scored:
            mark = " (asr@v2's setting)" if params == current else ""
            ctx.say(f"  lw={params['lw']:g} wip={params['wip']:g}: WER {wer:.3f}{mark}")
        best, wer = scored[0]
        self.result.notes.update(best=best, wer=wer, clips=len(speech))
        if best == current:
            ctx.say("asr@v2's own setting is still the best on these clips: nothing to roll "
                    "out. Decoder tuning has run out of road; what is left is adapting the "
                    "acoustic model.")
            self.result.notes["state"] = "nothing better"
            self.result.seconds = time.monotonic() - t0
            return self.result
        path = ctx.data / "asr_tuned.py"
        spec = write_tuned(path, best, n=len(speech), wer=wer)
        record = await asyncio.to_thread(
            ctx.registry.register, ASR, spec, flavor="python", actor=ACTOR, deploy=False,
            metadata={"tuning": {"params": best, "wer": wer, "clips": len(speech)},
                      "note": "decoder parameters tuned on typed transcripts; the acoustic "
                              "model is not retrained"})
        ctx.say(f"registered asr@{record.version} ({path.name}: lw={best['lw']:g}, "
                f"wip={best['wip']:g}, WER {wer:.3f} on the tuning clips); rolling it out")
        self.result.notes["version"] = record.version
        self.result.notes["state"] = await _roll_out(ctx, ASR, record.version,
                                                     "speech demo: the tuning run's best")
        wers = await live_wer(ctx, self.users.started, ["v2", record.version])
        self.result.notes["wer"] = wers
        ctx.say(f"since the users changed, {wer_text(wers)}. Tuning the decoder recovers "
                "part of the loss at best; the lasting fix is adapting the acoustic model "
                "(or a recogniser trained on such voices), and this is where a team would "
                "plan that work.")
        self.result.seconds = time.monotonic() - t0
        return self.result

    def cut(self) -> str | None:
        return None


def _spread(grid: tuple[dict[str, float], ...], n: int) -> list[dict[str, float]]:
    """``n`` settings spread over ``grid`` (all of it when ``n`` covers it).

    >>> [g["lw"] for g in _spread(({"lw": 1.0}, {"lw": 2.0}, {"lw": 3.0}), 2)]
    [1.0, 3.0]
    """
    if n >= len(grid):
        return list(grid)
    idx = np.unique(np.linspace(0, len(grid) - 1, max(n, 1)).round().astype(int))
    return [grid[i] for i in idx]


def chapters(ctx: Context, since: float) -> list[AsrCanary | BrokenVad | NewUsers | Tuning]:
    users = NewUsers(ctx)
    out: list[AsrCanary | BrokenVad | NewUsers | Tuning] = [
        AsrCanary(ctx), BrokenVad(ctx, since), users]
    if ctx.plan.tune:
        out.append(Tuning(ctx, users))
    return out
