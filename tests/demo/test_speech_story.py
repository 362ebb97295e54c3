"""The speech scenario, end to end on a live server with real espeak-ng clips and real
pocketsphinx models: the canary, the broken VAD threshold (its alarms fire, the cascade
names the VAD, the alarms resolve after the rollback), the new users (the audio alarm,
then the WER alarm once transcripts are typed) and the tuning run's canary."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from rampup.inputs.metrics import audio_metrics
from rampup.project import load_project
from rampup.store import Database
from rampup_demo.speech_audio import (
    ADULT_VOICES,
    MIC,
    NEW_MIC,
    TEEN_VOICES,
    ClipSource,
    Microphone,
    espeak_available,
    read_wav,
    record,
    wav_bytes,
)
from rampup_demo.speech_scenario import prepare_project, records, run_speech_demo
from rampup_demo.speech_story import PIPELINE, SpeechPlan, alert_rules

needs_espeak = pytest.mark.skipif(not espeak_available(),
                                  reason="needs espeak-ng (apt-get install espeak-ng)")
FAST = SpeechPlan(rate=0.6, window_s=20.0, warmup_s=40.0, canary_weights=(100.0,),
                  canary_min_requests=3, canary_hold_s=3.0, canary_checks=(),
                  judge_min_requests=3, wait_s=120.0, broken_min_s=10.0, audit_rate=0.6,
                  tuning_clips=4, tuning_configs=1)


def test_the_project_file_is_valid(tmp_path: Path) -> None:
    prepare_project(tmp_path, fresh=False, plan=SpeechPlan())
    project = load_project(tmp_path / "rampup.yaml")
    spec = project.models[PIPELINE]
    assert spec.pipeline is not None
    assert spec.pipeline.names() == ["vad", "asr"]
    assert [r.name for r in spec.alerts] == [r["name"] for r in alert_rules(SpeechPlan())]
    assert spec.automation.audit_rate == SpeechPlan().audit_rate


def test_the_microphone_sets_level_and_noise() -> None:
    rng = np.random.default_rng(0)
    tone = (0.1 * np.sin(np.arange(16000) / 5.0)).astype(np.float32)
    quiet = audio_metrics(record(tone, Microphone(gain_db=0.0, noise_dbfs=-120.0), rng), 16000)
    hot = audio_metrics(record(tone, NEW_MIC, rng), 16000)
    assert hot["rms_dbfs"] > quiet["rms_dbfs"] + 6.0
    assert quiet["silence"] > 0.2 > hot["silence"]  # the padding is silent on a quiet mic
    x, rate = read_wav(wav_bytes(tone))
    assert rate == 16000
    assert np.allclose(x, tone, atol=1e-4)


@needs_espeak
def test_new_voices_and_microphone_move_the_audio_metrics() -> None:
    def mean(source: ClipSource, metric: str) -> float:
        return float(np.mean([audio_metrics(read_wav(source.clip()[0])[0], 16000)[metric]
                              for _ in range(6)]))

    old = ClipSource(seed=1, voices=ADULT_VOICES, mic=MIC, silence_share=0.0)
    new = ClipSource(seed=1, voices=TEEN_VOICES, mic=NEW_MIC, silence_share=0.0)
    assert mean(new, "rms_dbfs") > mean(old, "rms_dbfs") + 9.0
    assert mean(new, "duration") < mean(old, "duration")  # faster speech
    row = next(records(ClipSource(seed=2, silence_share=0.0)))
    assert row["transcript"] != "no_speech"
    assert base64.b64decode(row["audio"])[:4] == b"RIFF"


@needs_espeak
@pytest.mark.slow
def test_the_speech_story_on_a_live_demo(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None)
    result = run_speech_demo(tmp_path / "speech", port=0, console=console, plan=FAST,
                             stop_after_story=True)
    text = out.getvalue()
    store = Database.open(f"sqlite:///{result.directory / 'rampup.db'}")
    try:
        events = store.alerts.list_alert_events(PIPELINE, kinds=["state"], limit=None,
                                                oldest_first=True)
        asr_rollouts = store.rollouts.list_rollouts("asr")
        decided = store.review.list_review_items(PIPELINE, statuses=["decided"], limit=10_000)
        versions = [v.version for v in store.models.list_versions("asr")]
    finally:
        store.close()
    states = [(e["rule"], e["state"]) for e in events if e["state"] in ("firing", "resolved")]
    # the broken VAD: both alarms fire, the cascade blames the VAD, both resolve
    broken = result.chapters["BrokenVad"]
    assert set(broken["fired"]) == {"vad-silence", "wer-high"}, text
    assert set(broken["resolved"]) == {"vad-silence", "wer-high"}, text
    assert broken["notes"]["cascade_first"] == "vad", text
    assert ("vad-silence", "resolved") in states, states
    # the new users: the audio alarm, then the WER alarm once transcripts are typed
    users = result.chapters["NewUsers"]
    assert set(users["fired"]) == {"audio-level", "wer-high"}, text
    # the canary of asr@v2 and of the tuning run's version
    assert result.chapters["AsrCanary"]["notes"]["state"] == "promoted", text
    # the tuning run: searched on typed clips, rolled out its best unless asr@v2's own
    # setting won (then it says so)
    tuned = result.chapters["Tuning"]["notes"]
    assert tuned["clips"] >= 1, text
    if tuned["state"] == "nothing better":
        assert "nothing to roll out" in text
    else:
        assert tuned["version"] in versions, text
        assert tuned["state"] == "promoted", text
        assert {r["candidate"] for r in asr_rollouts} == {"v2", tuned["version"]}
    assert "retraining" in text.lower()
    assert "out of reach" in text
    # the transcriber typed what was said, through the review API
    assert decided
    assert all(isinstance(i["final_label"], str) for i in decided)
    assert result.stats.server_errors == 0
