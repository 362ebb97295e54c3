"""A real scikit-learn pipeline (numeric, categorical, nullable and boolean inputs),
registered through the registry into the store under test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rampup.project import FeatureSpec
from rampup.registry.artifacts import ArtifactStore
from rampup.registry.registry import Registry
from rampup.store import Database

CITIES = ["paris", "rome", "oslo"]
FEATURES = [
    FeatureSpec(name="age", type="int"),
    FeatureSpec(name="income", type="float"),
    FeatureSpec(name="score", type="float", nullable=True),
    FeatureSpec(name="city", type="str", categories=CITIES, strict_categories=True),
    FeatureSpec(name="owner", type="bool"),
]
NAMES = [f.name for f in FEATURES]


@dataclass
class Trained:
    model_path: Path
    model2_path: Path
    frame: pd.DataFrame
    model: Pipeline
    model2: Pipeline


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """Features plus a ``customer`` id column and the label ``y``."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "customer": [f"c{seed}-{i}" for i in range(n)],
        "age": rng.integers(18, 80, n),
        "income": rng.lognormal(10.5, 0.5, n).round(2),
        "score": np.where(rng.random(n) < 0.1, np.nan, rng.normal(650, 60, n).round(1)),
        "city": rng.choice(CITIES, n),
        "owner": rng.random(n) < 0.4,
    })
    logit = -0.03 * (df["age"] - 45) + 0.8 * (df["city"] == "rome") - 0.5 + 0.6 * df["owner"]
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def fit(df: pd.DataFrame, c: float) -> Pipeline:
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "income", "score"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ("flag", "passthrough", ["owner"]),
    ])
    return Pipeline([("pre", pre), ("lr", LogisticRegression(C=c, max_iter=500))]).fit(
        df[NAMES], df["y"])


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    d = tmp_path_factory.mktemp("trained")
    df = make_frame(2000, seed=1)
    model, model2 = fit(df, 1.0), fit(df, 0.001)
    joblib.dump(model, d / "model.joblib")
    joblib.dump(model2, d / "model2.joblib")
    return Trained(d / "model.joblib", d / "model2.joblib", df, model, model2)


@pytest.fixture
def registry(store: Database, tmp_path: Path, trained: Trained) -> Registry:
    """``credit@v1`` registered (and so deployed at 100%)."""
    reg = Registry(store, ArtifactStore(tmp_path / "artifacts"))
    reg.register("credit", trained.model_path, reference=trained.frame.drop(columns="customer"),
                 label_column="y", features=FEATURES)
    return reg
