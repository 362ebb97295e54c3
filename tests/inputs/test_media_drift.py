"""Input metrics drift-alarm on generated shifts: images 30% darker, audio 12 dB quieter
(through the HTTP app and the prediction log), texts with a new vocabulary; no alarm on
unshifted traffic. And the monitor aggregates the same metrics as ordinary features."""

from __future__ import annotations

import base64
import time

import httpx
import numpy as np
import pandas as pd

from rampup.drift.check import check_model
from rampup.drift.profiles import compare_profiles, window_profile
from rampup.monitor.aggregates import WindowAggregate
from rampup.monitor.features import VersionInfo
from rampup.monitor.ingest import ingest
from rampup.predlog.writer import PredictionRecord
from rampup.registry.profile import compute_profile
from rampup.registry.registry import Registry
from rampup.registry.schema import Feature, InputSchema
from rampup.store import Database
from tests.inputs.media import clip, encode_audio, encode_image, photo


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _send(client: httpx.AsyncClient, model: str, bodies: list[dict[str, object]]) -> None:
    for i in range(0, len(bodies), 20):
        r = await client.post(f"/v1/models/{model}/predict", json=bodies[i:i + 20])
        assert r.status_code == 200, r.text
    assert client.app.state.rampup.writer.flush(10.0)  # type: ignore[attr-defined]


async def test_darker_images_and_quieter_audio_drift_alarm(
        client: httpx.AsyncClient, store: Database, registry: Registry) -> None:
    t0 = time.time() - 1
    same = [{"photo": b64(encode_image(photo(100 + i))), "camera": "a"} for i in range(60)]
    await _send(client, "vision", same)
    t1 = time.time()
    dark = [{"photo": b64(encode_image(photo(200 + i, brightness=0.7))), "camera": "a"}
            for i in range(60)]
    await _send(client, "vision", dark)
    t2 = time.time() + 1
    calm = check_model(store, "vision", since=t0, until=t1, source="log", concept=False)
    assert "photo.brightness" not in calm.report.drifted_features
    shifted = check_model(store, "vision", since=t1, until=t2, source="log", concept=False)
    assert "photo.brightness" in shifted.report.drifted_features
    assert "photo.width" not in shifted.report.drifted_features

    quiet = 10 ** (-12 / 20)
    t3 = time.time()
    await _send(client, "ears", [{"clip": b64(encode_audio(clip(300 + i) * quiet))}
                                 for i in range(60)])
    t4 = time.time() + 1
    report = check_model(store, "ears", since=t3, until=t4, source="log",
                         concept=False).report
    assert "clip.rms_dbfs" in report.drifted_features
    assert "clip.duration" not in report.drifted_features
    assert "clip.sample_rate" not in report.drifted_features


WORDS_A = ["play", "some", "jazz", "music", "turn", "lights", "on", "off", "kitchen",
           "weather", "today", "call", "mom"]
WORDS_B = ["quantum", "flux", "capacitor", "warp", "drive", "nebula", "photon", "torpedo",
           "shield", "array"]


def _texts(words: list[str], n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, rng.integers(3, 8))) for _ in range(n)]


def test_a_new_vocabulary_drift_alarms_the_oov_rate() -> None:
    schema = InputSchema([Feature("query", "text")])
    ref = compute_profile(pd.DataFrame({"query": _texts(WORDS_A, 500, 1)}), schema)
    assert set(ref["features"]["query"]["vocabulary"]) == set(WORDS_A)
    calm = window_profile(pd.DataFrame({"query": _texts(WORDS_A, 200, 2)}), ref, schema)
    assert "query.oov_rate" not in compare_profiles(ref, calm, schema=schema).drifted_features
    mixed = _texts(WORDS_A, 100, 3) + _texts(WORDS_B, 100, 4)
    new = window_profile(pd.DataFrame({"query": mixed}), ref, schema)
    assert new["features"]["query.oov_rate"]["mean"] > 0.4
    assert "query.oov_rate" in compare_profiles(ref, new, schema=schema).drifted_features


def test_the_monitor_aggregates_input_metrics_like_features(registry: Registry) -> None:
    v = registry.get("vision", "v1")
    info = VersionInfo.from_parts(v.input_schema, v.output, v.profile)
    names = [f.name for f in info.features]
    assert "photo.brightness" in names
    assert "photo" not in names
    agg = WindowAggregate()
    from rampup.inputs.media import decode_image

    recs = [PredictionRecord(f"p{i}", f"p{i}", 1.0, "vision", "v1", "answer",
                             {"photo": decode_image(encode_image(photo(i))), "camera": "a"},
                             {"prediction": 1.0}, None, 1.0, None, None) for i in range(5)]
    ingest(agg, recs, info)
    bright = agg.features["photo.brightness"]
    assert bright.count == 5
    expected = np.mean([decode_image(encode_image(photo(i))).metrics()["brightness"]
                        for i in range(5)])
    assert bright.moments.mean == expected or abs(bright.moments.mean - expected) < 1e-9
