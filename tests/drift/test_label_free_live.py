"""The label-free estimate of a deployed binary classifier: the calibrator is fitted on the
reference at registration and stored with the version's profile; the live drift check
estimates the accuracy of the logged decisions before any label arrives, and alert rules
can name ``concept.estimated_accuracy``. Real registry, HTTP app and store, both stores."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from tests.app_client import app_client
from tests.serving.conftest import fit, make_frame, make_settings

from rampup.alerts.available import available_problem, model_infos
from rampup.alerts.sources import AlertSource
from rampup.config import Settings
from rampup.drift.check import check_model
from rampup.drift.estimate import Estimator
from rampup.monitor.query import StoreMetricSource
from rampup.registry.registry import Registry
from rampup.store import Database


def shifted_frame(n: int, seed: int, older: int) -> pd.DataFrame:
    """make_frame's population with applicants ``older`` years older: the inputs move, the
    relation between inputs and label does not (covariate shift, where the estimate holds)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.integers(18, 80, n) + older,
        "income": rng.lognormal(10.5, 0.5, n),
        "score": np.where(rng.random(n) < 0.1, np.nan, rng.normal(650, 60, n)),
        "city": rng.choice(["paris", "rome", "oslo"], n),
    })
    logit = -0.03 * (df["age"] - 45) + 0.8 * (df["city"] == "rome") - 0.5
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, database_url=db_url)


@pytest.fixture
def registry(store: Database, settings: Settings, tmp_path: Path) -> Registry:
    train, ref = make_frame(3000, seed=1), make_frame(3000, seed=2)
    joblib.dump(fit(train, 1.0), tmp_path / "model.joblib")
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    reg = Registry.from_settings(settings, store)
    reg.register("credit", tmp_path / "model.joblib", reference=tmp_path / "ref.parquet",
                 label_column="y", version="v1")
    # the same model registered without labels: nothing to calibrate on
    reg.register("unlabelled", tmp_path / "model.joblib",
                 reference=ref.drop(columns="y"), version="v1")
    return reg


@pytest.fixture
async def client(store: Database, settings: Settings, registry: Registry,
                 ) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, store) as c:
        yield c


def test_registration_stores_the_calibrated_estimator(registry: Registry) -> None:
    stored = registry.get("credit", "v1").profile["label_free"]
    assert stored["positive"] == "1"
    est = Estimator.from_dict(stored["estimator"])
    assert est.threshold == pytest.approx(0.5, abs=0.05)  # a logistic regression's arg-max
    assert est.n_ref == 3000
    assert len(est.bootstrap) >= 10
    assert 0.5 < est.reference["accuracy"] < 1.0
    assert "label_free" not in registry.get("unlabelled", "v1").profile


async def test_the_live_check_estimates_accuracy_before_labels(
        client: httpx.AsyncClient, store: Database, registry: Registry, tmp_path: Path) -> None:
    model = joblib.load(tmp_path / "model.joblib")
    current = shifted_frame(800, seed=5, older=15)  # covariate shift: older applicants
    t0 = time.time() - 1
    inputs = current.drop(columns="y")
    records = inputs.astype(object).where(inputs.notna(), None).to_dict(orient="records")
    for i in range(0, len(records), 100):
        r = await client.post("/v1/models/credit/predict", json=records[i:i + 100])
        assert r.status_code == 200, r.text
    assert client.app.state.rampup.writer.flush(10.0)  # type: ignore[attr-defined]
    t1 = time.time() + 1

    realised = float((model.predict(current.drop(columns="y")) == current["y"]).mean())
    check = check_model(store, "credit", since=t0, until=t1, source="log", windows=2)
    acc = check.estimate["accuracy"]
    assert acc.n == 800
    assert acc.lo <= realised <= acc.hi, (acc, realised)
    assert abs(acc.value - realised) < 0.05
    assert len(check.window_estimates) == 2
    assert check.metrics()["concept.estimated_accuracy"] == pytest.approx(acc.value)
    assert check.to_dict()["label_free"]["accuracy"]["n"] == 800
    assert {"f1", "roc_auc"} <= set(check.estimate)

    # alert rules: computed for the model with an estimator, refused with a reason otherwise
    alerts = AlertSource(store, StoreMetricSource(store))
    value = alerts.value("credit", "concept.estimated_accuracy", window_s=t1 - t0, now=t1)
    assert value == pytest.approx(acc.value)
    assert available_problem("concept.estimated_accuracy", model_infos(store, "credit")) is None
    problem = available_problem("concept.estimated_f1", model_infos(store, "unlabelled"))
    assert problem is not None
    assert "labelled reference data" in problem

