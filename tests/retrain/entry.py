"""Training entry points for the retraining tests (run in the run's subprocess)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

FEATURES = ["age", "income", "score", "city"]


def _pipeline(c: float) -> Pipeline:
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "income", "score"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
    ])
    return Pipeline([("pre", pre), ("lr", LogisticRegression(C=c, max_iter=500))])


def _weights(data: pd.DataFrame, params: dict[str, Any]) -> np.ndarray[Any, Any]:
    w = data["sample_weight"].to_numpy(dtype=float)
    return np.where(data["_source"] == "log", w * float(params.get("log_weight", 1.0)), w)


def train(data: pd.DataFrame, params: dict[str, Any]) -> Pipeline:
    """A logistic regression on the four features, log rows weighted up by ``log_weight``."""
    model = _pipeline(float(params.get("C", 1.0)))
    return model.fit(data[FEATURES], data["y"].astype(int),
                     lr__sample_weight=_weights(data, params))


def inverted(data: pd.DataFrame, params: dict[str, Any]) -> Pipeline:
    """A deliberately worse model: learns the opposite label."""
    return _pipeline(1.0).fit(data[FEATURES], 1 - data["y"].astype(int))


def crash(data: pd.DataFrame, params: dict[str, Any]) -> Pipeline:
    raise RuntimeError(f"cannot train on {len(data)} rows: boom")


def hang(data: pd.DataFrame, params: dict[str, Any]) -> Pipeline:
    time.sleep(60)
    raise AssertionError("unreachable")


def nothing(data: pd.DataFrame, params: dict[str, Any]) -> None:
    return None
