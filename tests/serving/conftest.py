"""A real scikit-learn pipeline, registered through the registry, served in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rampup.config import Settings
from rampup.project import ProjectFile
from rampup.registry.registry import Registry
from rampup.serving.app import create_app
from rampup.store import Database

ADMIN = "admin-secret"


@dataclass
class Trained:
    model_path: Path
    model2_path: Path
    reference_path: Path
    frame: pd.DataFrame
    model: Pipeline


def make_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": rng.lognormal(10.5, 0.5, n),
        "score": np.where(rng.random(n) < 0.1, np.nan, rng.normal(650, 60, n)),
        "city": rng.choice(["paris", "rome", "oslo"], n),
    })
    logit = -0.03 * (df["age"] - 45) + 0.8 * (df["city"] == "rome") - 0.5
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def fit(df: pd.DataFrame, c: float) -> Pipeline:
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "income", "score"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
    ])
    return Pipeline([("pre", pre), ("lr", LogisticRegression(C=c, max_iter=500))]).fit(
        df.drop(columns="y"), df["y"])


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    d = tmp_path_factory.mktemp("trained")
    df = make_frame(2000, seed=1)
    model = fit(df, 1.0)
    joblib.dump(model, d / "model.joblib")
    joblib.dump(fit(df, 0.01), d / "model2.joblib")
    df.to_parquet(d / "reference.parquet", index=False)
    return Trained(d / "model.joblib", d / "model2.joblib", d / "reference.parquet", df, model)


def make_settings(tmp_path: Path, **kw: object) -> Settings:
    base: dict[str, object] = {"project_dir": tmp_path, "admin_token": ADMIN,
                               "log_flush_interval": 0.02, "deployment_poll_interval": 0.1,
                               "controller": False}
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def registry(store: Database, settings: Settings, trained: Trained) -> Registry:
    reg = Registry.from_settings(settings, store)
    reg.register("credit", trained.model_path, reference=trained.reference_path,
                 label_column="y")
    return reg


@pytest.fixture
def project() -> ProjectFile:
    return ProjectFile()


@pytest.fixture
async def client(store: Database, settings: Settings, registry: Registry,
                 project: ProjectFile) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, project, store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rampup") as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


def record(df: pd.DataFrame, i: int) -> dict[str, object]:
    row = df.drop(columns="y").iloc[i]
    out: dict[str, object] = {}
    for k, v in row.items():
        if isinstance(v, float) and np.isnan(v):
            out[str(k)] = None
        elif isinstance(v, np.generic):
            out[str(k)] = v.item()
        else:
            out[str(k)] = v
    return out
