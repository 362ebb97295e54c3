"""A registered sklearn champion, a project with a ``retrain:`` section, and a prediction
log written in the log writer's own row format (drifted inputs, a changed concept)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rampup.predlog.writer import PredictionRecord
from rampup.project import ProjectFile, parse_project
from rampup.registry.registry import Registry
from rampup.retrain.service import Retrainer
from rampup.store import Database, FeedbackRecord
from tests.serving.conftest import Trained, make_frame, make_settings, record, trained

__all__ = ["trained"]
ENTRY = "tests.retrain.entry"
ROOT = Path(__file__).resolve().parents[2]


def drifted(n: int, seed: int) -> pd.DataFrame:
    """Applicants 20 years older, and a new concept: the old ones now default."""
    df = make_frame(n, seed)
    df["age"] = df["age"] + 20
    rng = np.random.default_rng(seed + 100)
    df["y"] = ((df["age"] > 70) ^ (rng.random(n) < 0.05)).astype(int)
    return df


def retrain_section(**kw: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "entry_point": f"{ENTRY}:train", "params": {"log_weight": 5.0}, "label_column": "y",
        "guards": {"min_new_labels": 50, "cooldown": "1h", "max_runs_per_day": 5},
        "evaluation": {"holdout": 0.3, "tolerance": 0.01, "bootstrap": 100},
        "timeout": "60s", "replay_last": 300,
        "rollout": {"strategy": "canary", "plan": {
            # the judge's always-valid interval on a 0-of-n error rate difference is
            # about 4.2/n wide: a 5-point margin is decided within ~150 requests an arm
            "checks": ["error_rate <= baseline + 0.05"],
            "steps": [{"canary": 50, "min_duration_s": 0, "min_requests": 30}]}}}
    spec.update(kw)
    return spec


def make_project(reference: Path | None = None, **kw: Any) -> ProjectFile:
    section = retrain_section(**kw)
    if reference is not None:
        section["reference"] = str(reference)
    return parse_project({"models": {"credit": {"retrain": section}}})


@dataclass
class World:
    store: Database
    registry: Registry
    trained: Trained
    project_dir: Path

    def retrainer(self, project: ProjectFile, clock: Any = None) -> Retrainer:
        kw = {"clock": clock} if clock is not None else {}
        return Retrainer(self.registry, project, self.project_dir,
                         runs_dir=self.project_dir / "runs", **kw)

    def log(self, frame: pd.DataFrame, *, ts: float, version: str = "v1",
            labels: bool = True, prefix: str = "r") -> list[str]:
        """Log one answered prediction per row (the champion's real answer), and its label."""
        model = self.registry.load(self.registry.get("credit", version))
        from rampup.registry.predictor import FeatureBatch

        inputs = [record(frame, i) for i in range(len(frame))]
        out = model.predict(FeatureBatch.from_records(inputs, FEATURE_NAMES))
        ids = [f"{prefix}{i}" for i in range(len(frame))]
        rows = [PredictionRecord(pid, pid, ts + i * 0.001, "credit", version, "answer", inp,
                                 out.record(i), None, 1.0, None, None).to_row()
                for i, (pid, inp) in enumerate(zip(ids, inputs, strict=True))]
        self.store.predictions.insert_predictions(rows)
        if labels:
            self.store.feedback.add_feedback([
                FeedbackRecord(pid, "credit", ts + 1, "label", None, int(y), "test",
                               hashlib.sha256(f"{pid}:{y}".encode()).hexdigest())
                for pid, y in zip(ids, frame["y"], strict=True)])
        return ids


FEATURE_NAMES = ["age", "income", "score", "city"]


@pytest.fixture(autouse=True)
def entry_points_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training subprocesses import ``tests.retrain.entry`` from the repository."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))


@pytest.fixture
def world(sqlite_store: Database, tmp_path: Path, trained: Trained) -> World:
    settings = make_settings(tmp_path)
    registry = Registry.from_settings(settings, sqlite_store)
    registry.register("credit", trained.model_path, reference=trained.reference_path,
                      label_column="y")
    return World(sqlite_store, registry, trained, tmp_path)
