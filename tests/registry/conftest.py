"""Seeded training data and real scikit-learn models for the registry tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rampup.registry import ArtifactStore, Registry
from rampup.store import Database

NUMERIC = ["income", "age"]
CATEGORICAL = ["city", "employed"]


def loan_frame(n: int, seed: int) -> pd.DataFrame:
    """Loan applications: float with gaps, int, categorical with gaps, bool; label 0/1."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.4, n)
    income[rng.random(n) < 0.1] = np.nan
    city = rng.choice(["paris", "rome", "oslo", "lima"], n).astype(object)
    city[rng.random(n) < 0.05] = None
    df = pd.DataFrame({"income": income, "age": rng.integers(18, 80, n), "city": city,
                       "employed": rng.random(n) < 0.7})
    logit = -0.04 * (df["age"] - 45) + 0.9 * (df["city"] == "rome") - 0.6 * df["employed"]
    df["default"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def fit_classifier(df: pd.DataFrame, c: float = 1.0) -> Pipeline:
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), CATEGORICAL),
    ])
    return Pipeline([("pre", pre), ("lr", LogisticRegression(C=c, max_iter=500))]).fit(
        df.drop(columns="default"), df["default"])


@dataclass
class Trained:
    path: Path
    reference: Path
    frame: pd.DataFrame
    model: Pipeline


@pytest.fixture
def loan(tmp_path: Path) -> Trained:
    """A Pipeline(ColumnTransformer, LogisticRegression) saved with joblib + its data."""
    df = loan_frame(600, seed=7)
    model = fit_classifier(df)
    src = tmp_path / "src"
    src.mkdir()
    path = src / "loan.joblib"
    joblib.dump(model, path)
    reference = src / "train.parquet"
    df.to_parquet(reference)
    return Trained(path, reference, df, model)


@pytest.fixture
def numpy_regressor(tmp_path: Path) -> tuple[Path, np.ndarray, LinearRegression]:
    """A LinearRegression fitted on a bare numpy array (no feature names)."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(300, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 3 + rng.normal(0, 0.1, 300)
    model = LinearRegression().fit(x, y)
    path = tmp_path / "reg.pkl"
    joblib.dump(model, path)
    return path, x, model


@pytest.fixture
def registry(store: Database, tmp_path: Path) -> Registry:
    """A registry on the parametrised store (SQLite and PostgreSQL)."""
    return Registry(store, ArtifactStore(tmp_path / "artifacts"))
