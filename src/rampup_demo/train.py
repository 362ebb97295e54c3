"""Train the demo's model versions and write every file the demo needs.

v1 is a scikit-learn logistic regression, v2 a histogram gradient-boosting classifier
that also catches the label's non-linear effects (and so ranks better). Both are plain
scikit-learn :class:`~sklearn.pipeline.Pipeline` objects fitted on a pandas DataFrame, so
``feature_names_in_`` names the inputs and loading them needs nothing from rampup.

>>> from rampup_demo.data import LoanGenerator
>>> gen = LoanGenerator(seed=3)
>>> model = train_model(gen.sample(1500), seed=3)
>>> list(model.feature_names_in_) == FEATURES
True
>>> evaluate(model, gen.sample(1500))["auc"] > 0.7
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from rampup.errors import ValidationError
from rampup_demo.data import (
    BOOL_FEATURES,
    CATEGORICAL_FEATURES,
    FEATURES,
    ID_COLUMN,
    LABEL,
    NUMERIC_FEATURES,
    LoanGenerator,
)

ModelKind = Literal["logistic", "gbm"]
MODEL_KINDS: tuple[str, ...] = ("logistic", "gbm")
BATCH_ROWS = 2000


def build_pipeline(kind: ModelKind = "logistic", *, seed: int = 0) -> Pipeline:
    """The unfitted pipeline: impute + scale numbers (booleans count as numbers), impute +
    one-hot categories (unseen ones encode as all zeros), then the classifier."""
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")),
                        ("scale", StandardScaler())])
    categorical = Pipeline([
        ("impute", SimpleImputer(strategy="most_frequent")),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ])
    prep = ColumnTransformer([
        ("num", numeric, [*NUMERIC_FEATURES, *BOOL_FEATURES]),
        ("cat", categorical, CATEGORICAL_FEATURES),
    ])
    classifier: Any
    if kind == "logistic":
        classifier = LogisticRegression(max_iter=1000)
    elif kind == "gbm":
        classifier = HistGradientBoostingClassifier(
            learning_rate=0.08, max_iter=300, max_leaf_nodes=15, min_samples_leaf=40,
            l2_regularization=1.0, early_stopping=True, validation_fraction=0.15,
            n_iter_no_change=15, random_state=seed)
    else:
        raise ValidationError(f"unknown model kind {kind!r}",
                              fix=f"use one of {', '.join(MODEL_KINDS)}", field="kind")
    return Pipeline([("prep", prep), ("model", classifier)])


def _require_columns(df: pd.DataFrame, names: list[str]) -> None:
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise ValidationError(f"the training frame lacks column(s) {', '.join(missing)}",
                              fix="generate it with rampup_demo.data.LoanGenerator.sample",
                              field=missing[0])


def train_model(df: pd.DataFrame, *, seed: int = 0, kind: ModelKind = "logistic") -> Pipeline:
    """Fit a pipeline on ``df[FEATURES]`` against ``df[LABEL]`` (other columns ignored).

    Training runs on one thread: on data this small, OpenMP/BLAS threads competing with a
    running server (or a test run) for two cores are several times slower, not faster.
    """
    _require_columns(df, [*FEATURES, LABEL])
    model = build_pipeline(kind, seed=seed)
    with threadpool_limits(limits=1):
        model.fit(df[FEATURES], df[LABEL].to_numpy(dtype=np.int64))
    return model


def evaluate(model: Pipeline, df: pd.DataFrame) -> dict[str, float]:
    """ROC AUC, accuracy at 0.5, base rate and row count of ``model`` on a labelled frame."""
    _require_columns(df, [*FEATURES, LABEL])
    y = df[LABEL].to_numpy(dtype=np.int64)
    proba = model.predict_proba(df[FEATURES])[:, 1]
    return {
        "auc": round(float(roc_auc_score(y, proba)), 4),
        "accuracy": round(float(accuracy_score(y, proba >= 0.5)), 4),
        "base_rate": round(float(y.mean()), 4),
        "n": float(len(y)),
    }


@dataclass(frozen=True)
class DemoArtifacts:
    """Where :func:`build_demo_artifacts` wrote things, and how the models scored.

    ``metrics`` maps ``"v1"``/``"v2"`` to :func:`evaluate` on the holdout. ``bad_rows``
    maps a 0-based data row of ``batch_input`` (the CSV line is that + 2) to what is
    wrong with it.
    """

    out_dir: Path
    model_v1: Path
    model_v2: Path
    reference: Path
    holdout: Path
    batch_input: Path
    metrics: dict[str, dict[str, float]]
    bad_rows: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0


# Deliberately broken rows of the batch-scoring input: (row, column, value, reason).
_BAD_ROWS: tuple[tuple[int, str, Any, str], ...] = (
    (17, "age", "forty-two", "age is not a number"),
    (404, "loan_amount", None, "loan_amount is missing"),
    (911, "annual_income", "fifty thousand", "annual_income is not a number"),
    (1337, "purpose", None, "purpose is missing"),
    (1800, "credit_score", "excellent", "credit_score is not a number"),
)


def _batch_input(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    """Features plus the id as an extra (non-feature) column, with a few bad rows."""
    batch = df[[ID_COLUMN, *FEATURES]].reset_index(drop=True)
    bad: dict[int, str] = {}
    for row, column, value, reason in _BAD_ROWS:
        if row >= len(batch):
            continue
        batch[column] = batch[column].astype(object)
        batch.loc[row, column] = value
        bad[row] = reason
    return batch, bad


def build_demo_artifacts(out_dir: Path, *, seed: int = 0, n_train: int = 20000) -> DemoArtifacts:
    """Generate data, train v1 (logistic) and v2 (gbm), and write the demo's files.

    Training, holdout and batch rows come one after the other from one generator, so
    the holdout and the batch lie later in time than the training data.
    """
    if n_train < 200:
        raise ValidationError(f"n_train must be at least 200, got {n_train}",
                              fix="pass n_train=20000 (the default) or another value >= 200")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = LoanGenerator(seed)
    train = gen.sample(n_train)
    holdout = gen.sample(max(1000, n_train // 4))
    batch, bad_rows = _batch_input(gen.sample(BATCH_ROWS))

    models = {"v1": train_model(train, seed=seed, kind="logistic"),
              "v2": train_model(train, seed=seed, kind="gbm")}
    paths = {name: out_dir / f"model_{name}.joblib" for name in models}
    for name, model in models.items():
        joblib.dump(model, paths[name])
    metrics = {name: evaluate(model, holdout) for name, model in models.items()}

    reference_path, holdout_path = out_dir / "reference.parquet", out_dir / "holdout.parquet"
    train[[*FEATURES, LABEL]].to_parquet(reference_path, index=False)
    holdout[[*FEATURES, LABEL]].to_parquet(holdout_path, index=False)
    batch_path = out_dir / "batch_input.csv"
    batch.to_csv(batch_path, index=False)
    return DemoArtifacts(
        out_dir=out_dir, model_v1=paths["v1"], model_v2=paths["v2"],
        reference=reference_path, holdout=holdout_path, batch_input=batch_path,
        metrics=metrics, bad_rows=bad_rows, seconds=round(time.perf_counter() - started, 3))
