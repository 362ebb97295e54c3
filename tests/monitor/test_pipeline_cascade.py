"""The cascade view: golden tests of the change finder on seeded series, then a seeded
pipeline scenario in the store (upstream ``vad`` drifts at minute 30, downstream
accuracy drops at minute 40) through the pure report, the HTTP route and the CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from rampup.cli import app
from rampup.config import Settings
from rampup.monitor.aggregates import WindowAggregate, WindowKey
from rampup.monitor.cascade import Method, baseline_of, cascade, first_change
from rampup.monitor.features import VersionInfo
from rampup.monitor.ingest import ingest
from rampup.monitor.pipelines import cascade_report, stage_map
from rampup.monitor.query import StoreMetricSource
from rampup.monitor.snapshots import window_row
from rampup.predlog.writer import PredictionRecord
from rampup.store import Database
from tests.serving.conftest import make_settings
from tests.serving.pipeline_app import PROJECT, project, register, serve

T0 = 1_700_000_000.0 - (1_700_000_000.0 % 60)
STEP = 60.0
N = 60  # windows
DRIFT_AT, DROP_AT = 30, 40
PER_WINDOW = 120


def seeded(seed: int, n: int = 60, level: float = 0.9, sd: float = 0.01,
           at: int = 30, to: float = 0.8) -> list[tuple[float, float | None]]:
    rng = np.random.default_rng(seed)
    return [(T0 + i * STEP, float(rng.normal(level if i < at else to, sd)))
            for i in range(n)]


# -- the pure change finder ------------------------------------------------------------------

def test_golden_first_change_on_a_seeded_series() -> None:
    series = seeded(11)
    base, ch = first_change(series, baseline=(T0, T0 + 20 * STEP))
    assert base is not None
    assert ch is not None
    assert base.n == 20
    assert base.median == pytest.approx(0.9, abs=0.01)
    assert (ch.start - T0) / STEP == 30  # golden: the first drifted window
    assert ch.direction == -1
    assert ch.z < -4


def test_a_blip_is_not_a_change_and_gaps_do_not_break_a_run() -> None:
    series = seeded(12, at=100)  # no drift
    blip = list(series)
    blip[35] = (blip[35][0], 0.5)
    blip[36] = (blip[36][0], 0.5)  # two windows < for_windows=3
    assert first_change(blip, baseline=(T0, T0 + 20 * STEP))[1] is None
    gappy = seeded(13, at=40)
    gappy[41] = (gappy[41][0], None)
    _, ch = first_change(gappy, baseline=(T0, T0 + 20 * STEP))
    assert ch is not None
    assert (ch.start - T0) / STEP == 40
    strict = Method(for_windows=25)
    assert first_change(gappy, baseline=(T0, T0 + 20 * STEP), method=strict)[1] is None


def test_flat_and_short_baselines() -> None:
    flat = [(T0 + i * STEP, 0.0 if i < 30 else 0.02) for i in range(40)]
    base, ch = first_change(flat, baseline=(T0, T0 + 20 * STEP))
    assert base is not None
    assert base.scale == Method().abs_floor
    assert ch is not None
    assert ch.direction == 1
    assert baseline_of([1.0, 2.0]) is None
    short = first_change(flat, baseline=(T0, T0 + 3 * STEP))
    assert short == (None, None)
    level = [(T0 + i * STEP, 100.0 if i < 30 else 103.0) for i in range(40)]
    assert first_change(level, baseline=(T0, T0 + 20 * STEP))[1] is None  # 3 % < 4 x the 1 % floor


def test_cascade_orders_stages_by_first_change() -> None:
    up = {"confidence_mean": seeded(1, at=30), "latency_p50": seeded(2, level=5, sd=0.2,
                                                                      at=100)}
    down = {"accuracy": seeded(3, level=0.95, at=40, to=0.7)}
    quiet = {"error_rate": seeded(4, level=0.01, sd=0.001, at=100)}
    r = cascade([("vad", up), ("norm", quiet), ("asr", down)],
                baseline=(T0, T0 + 20 * STEP),
                end_to_end=("accuracy", seeded(5, level=0.95, at=40, to=0.7)))
    assert r.order == ["vad", "asr", "norm"]
    assert r.first == "vad"
    doc = r.to_dict()
    assert [s["rank"] for s in doc["stages"]] == [1, 2, 3]
    assert doc["stages"][0]["changed_metrics"] == ["confidence_mean"]
    assert doc["stages"][2]["first_change"] is None
    assert doc["end_to_end"]["change"]["direction"] == "down"
    assert doc["method"]["name"] == "robust_z"
    none = cascade([("a", quiet)], baseline=(T0, T0 + 20 * STEP))
    assert none.first is None
    assert none.to_dict()["end_to_end"] is None


def test_a_baseline_a_window_short_gives_no_verdict_at_all() -> None:
    """The speech story's regression: its baseline (the healthy minute before the broken
    VAD) held one window fewer than ``min_baseline`` and the cascade named no stage, however
    far the VAD's silence share went. A baseline counts the windows that *start* inside it,
    so one that starts mid-window loses the window holding its start."""
    story = Method(threshold=3.0, for_windows=2)  # what the story asks for
    share = [(T0 + i * STEP, 0.1 + 0.05 * (i % 3) if i < 6 else 1.0) for i in range(12)]
    stages = [("vad", {"class_share[no_speech]": share}), ("asr", {"error_rate": [
        (T0 + i * STEP, 0.0) for i in range(12)]})]
    whole = cascade(stages, baseline=(T0, T0 + 6 * STEP), method=story)
    assert whole.first == "vad"
    assert whole.stages[0].metrics[0].baseline is not None
    assert whole.stages[0].metrics[0].baseline.n == 6
    # from mid-window: 5 windows start inside it, just enough
    assert cascade(stages, baseline=(T0 + 1.0, T0 + 6 * STEP), method=story).first == "vad"
    # one window less: no baseline, so no verdict, and the payload shows why
    short = cascade(stages, baseline=(T0 + 1.0, T0 + 5 * STEP), method=story)
    assert short.first is None
    vad = short.to_dict()["stages"][0]
    assert vad["stage"] == "vad"
    assert vad["first_change"] is None
    assert vad["metrics"][0]["baseline"] is None


# -- a seeded pipeline scenario in the store ---------------------------------------------------

def _records(model: str, version: str, stage: str | None, i: int,
             inputs: list[dict[str, Any]], preds: list[Any]) -> list[PredictionRecord]:
    ts = T0 + i * STEP + 1.0
    return [PredictionRecord(f"{model}-{i}-{j}", f"{model}-{i}-{j}", ts, model, version,
                             "answer", x, {"prediction": p}, None, 5.0, None, None, stage)
            for j, (x, p) in enumerate(zip(inputs, preds, strict=True))]


def fill(store: Database, settings: Settings, *, n: int = N, drift_at: int = DRIFT_AT,
         drop_at: int = DROP_AT) -> None:
    """One hour of windows: vad's input energy shifts at minute 30 (more speech), the
    transcripts' accuracy (asr and end to end) drops at minute 40."""
    register(store, settings)
    infos = {(v.model, v.version): VersionInfo.from_parts(v.input_schema, v.output, v.profile)
             for v in store.models.list_versions()}
    rng = np.random.default_rng(2024)
    rows = []
    for i in range(n):
        energy = rng.uniform(0.0, 1.0, PER_WINDOW) + (0.3 if i >= drift_at else 0.0)
        speech = energy >= 0.5
        vad_preds = ["speech" if s else "no_speech" for s in speech]
        n_asr = int(speech.sum())
        correct = rng.random(n_asr) < (0.95 if i < drop_at else 0.6)
        parts: list[tuple[str, str, str | None, list[PredictionRecord], Any]] = []
        vad = _records("vad", "v1", "transcribe/vad", i,
                       [{"energy": float(e)} for e in energy], vad_preds)
        asr = _records("asr", "v1", "transcribe/asr", i,
                       [{"audio_len": 10.0, "speech_ratio": 0.8}] * n_asr, ["w"] * n_asr)
        e2e = _records("transcribe", "v1+v1", None, i, [{}] * PER_WINDOW, vad_preds)
        parts += [("vad", "v1", "transcribe/vad", vad, None),
                  ("asr", "v1", "transcribe/asr", asr, correct),
                  ("transcribe", "v1+v1", None, e2e, None)]
        for model, version, stage, recs, ok in parts:
            agg = WindowAggregate()
            info = infos.get((model, version), VersionInfo.free())
            ingest(agg, recs, info)
            flags = ok if ok is not None else np.ones(len(recs), dtype=bool)
            if model == "transcribe":  # end to end: the transcribed records carry accuracy
                flags = np.ones(len(recs), dtype=bool)
                flags[np.flatnonzero(speech)] = correct
            for f in flags:
                agg.performance.add("w", "w" if f else "x", regression=False)
            key = WindowKey(model, version, "answer", stage or "", T0 + i * STEP)
            rows.append(window_row(key, STEP, "replica-1", T0 + n * STEP, agg.to_dict()))
    store.windows.upsert_metric_windows(rows)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, monitor=False)


def report(store: Database, **kw: Any) -> dict[str, Any]:
    source = StoreMetricSource(store, stages=stage_map(project()), clock=lambda: T0 + N * STEP)
    return cascade_report(source, project(), "transcribe", metric="accuracy", since=T0,
                          until=T0 + N * STEP, step_s=STEP,
                          baseline=(T0, T0 + 20 * STEP), **kw)


def test_upstream_drift_is_named_first(store: Database, settings: Settings) -> None:
    fill(store, settings)
    doc = report(store)
    assert doc["first"] == "vad"
    assert doc["order"] == ["vad", "asr"]
    assert doc["explained"] is True
    vad, asr = doc["stages"]
    assert (vad["first_change"] - T0) / STEP == DRIFT_AT
    assert (asr["first_change"] - T0) / STEP == DROP_AT
    assert (doc["end_to_end"]["change"]["start"] - T0) / STEP == DROP_AT
    assert {"feature[energy].mean", "class_share[speech]"} <= set(vad["changed_metrics"])
    assert asr["changed_metrics"][0] == "accuracy"
    assert (vad["model"], vad["tag"]) == ("vad", "transcribe/vad")
    assert len(vad["metrics"][0]["series"]) == N


def test_the_defaults_work_on_a_young_deployment(store: Database, settings: Settings) -> None:
    """Deployed 40 minutes ago, asked with the defaults (the last 6 h at 5-minute steps,
    no baseline): the baseline starts at the first data, the range is read at a finer
    step, and the upstream drift is still named first. Before, the baseline (the first
    half of the six hours) predated the data and every stage said "no change"."""
    young, drift_at, drop_at = 40, 16, 26
    fill(store, settings, n=young, drift_at=drift_at, drop_at=drop_at)
    until = T0 + young * STEP
    source = StoreMetricSource(store, stages=stage_map(project()), clock=lambda: until)
    doc = cascade_report(source, project(), "transcribe", metric="accuracy",
                         since=until - 6 * 3600, until=until, step_s=300.0, baseline=None)
    assert doc["step"] == 120.0  # 40 minutes in about 30 steps, whole minutes
    # the baseline starts at the (step-aligned) window holding the first data
    assert doc["baseline"]["since"] <= T0 < doc["baseline"]["since"] + doc["step"]
    assert doc["first"] == "vad"
    assert doc["order"] == ["vad", "asr"]
    vad = doc["stages"][0]
    # the 2-minute window holding the drift onset, or a later one before the drop
    assert T0 + drift_at * STEP - doc["step"] < vad["first_change"] < T0 + drop_at * STEP
    assert doc["end_to_end"]["change"] is not None


@pytest.fixture
async def client(store: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    fill(store, settings)
    async with serve(store, settings) as c:
        yield c


async def test_cascade_route(client: httpx.AsyncClient) -> None:
    q = {"metric": "accuracy", "since": f"epoch:{T0}", "until": f"epoch:{T0 + N * STEP}",
         "step": "1m",
         "baseline": "20m"}
    r = await client.get("/v1/models/transcribe/cascade", params=q)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["first"] == "vad"
    assert body["pipeline"] == "transcribe"
    assert body["baseline"] == {"since": T0, "until": T0 + 20 * STEP}
    r = await client.get("/v1/models/transcribe/cascade",
                         params={**q, "baseline": f"epoch:{T0}..epoch:{T0 + 1200}",
                                 "stage_metric": "accuracy", "for": "2", "threshold": "5"})
    assert r.status_code == 200
    assert r.json()["method"]["for_windows"] == 2
    assert r.json()["stages"][0]["changed_metrics"] == ["accuracy"]
    assert r.json()["first"] == "asr"  # watching accuracy only: vad has no labels
    r = await client.get("/v1/models/vad/cascade")
    assert r.status_code == 404
    assert "not a pipeline" in r.json()["message"]
    for bad in ({"baseline": "2d"}, {"threshold": "x"}, {"for": "0"}, {"step": "100ms"},
                {"metric": "speed"}):
        r = await client.get("/v1/models/transcribe/cascade", params={**q, **bad})
        assert r.status_code == 422, bad
    r = await client.get("/v1/models/transcribe/metrics",
                         params={"metric": "accuracy", "stage": "asr", "since": f"epoch:{T0}",
                                 "until": f"epoch:{T0 + N * STEP}"})
    assert r.status_code == 200
    assert r.json()["summary"]["accuracy"] is not None


def test_cli_cascade(store: Database, settings: Settings, db_url: str, tmp_path: Path) -> None:
    fill(store, settings)
    (tmp_path / "rampup.yaml").write_text(yaml.safe_dump(PROJECT))
    runner = CliRunner()
    args = ["--project", str(tmp_path), "--database-url", db_url, "monitor", "cascade",
            "transcribe", "--since", f"epoch:{T0}", "--until", f"epoch:{T0 + N * STEP}",
            "--step", "1m",
            "--baseline", "20m"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "cascade transcribe" in out
    assert "first to change: vad" in out
    assert out.index(" vad ") < out.index(" asr ")
    assert "feature[energy].mean ↑" in out, out
    assert "end-to-end accuracy: changed at" in out
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0
    assert '"first": "vad"' in result.output
    result = runner.invoke(app, [*args[:-2], "--baseline", f"epoch:{T0}..epoch:{T0 + 1200}",
                                 "--stage-metric", "latency_p50", "--metric", "latency_p50"])
    assert result.exit_code == 0, result.output
    assert "no stage changed" in result.output
    result = runner.invoke(app, [*args[:5], "cascade", "vad"])
    assert result.exit_code == 2
    assert "not a pipeline" in result.output
