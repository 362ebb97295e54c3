"""The benchmark model: a LogisticRegression on 16 numeric features, fitted on a DataFrame.

Fitted the way a user would in a notebook (``model.fit(df[features], df["y"])``), so it
carries ``feature_names_in_`` and wants a DataFrame with those columns at predict time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

FEATURES = [
    "age", "annual_income", "loan_amount", "loan_term_months", "interest_rate",
    "debt_to_income", "credit_score", "credit_lines", "credit_utilization",
    "delinquencies_2y", "inquiries_6m", "months_employed", "months_at_address",
    "savings_balance", "monthly_expenses", "previous_loans",
]


def make_frame(n: int, seed: int = 7) -> pd.DataFrame:
    """Loan-like numeric data with a default label ``y`` (seeded)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "annual_income": rng.lognormal(10.8, 0.5, n).round(2),
        "loan_amount": rng.lognormal(9.5, 0.7, n).round(2),
        "loan_term_months": rng.choice([12.0, 24.0, 36.0, 48.0, 60.0], n),
        "interest_rate": rng.uniform(2.5, 24.0, n).round(3),
        "debt_to_income": rng.beta(2, 5, n).round(4),
        "credit_score": rng.normal(680, 60, n).round(0),
        "credit_lines": rng.poisson(6, n).astype(float),
        "credit_utilization": rng.beta(2, 3, n).round(4),
        "delinquencies_2y": rng.poisson(0.3, n).astype(float),
        "inquiries_6m": rng.poisson(1.0, n).astype(float),
        "months_employed": rng.exponential(60, n).round(0),
        "months_at_address": rng.exponential(48, n).round(0),
        "savings_balance": rng.lognormal(8.0, 1.2, n).round(2),
        "monthly_expenses": rng.lognormal(7.5, 0.4, n).round(2),
        "previous_loans": rng.poisson(1.5, n).astype(float),
    })
    z = (-0.02 * (df["credit_score"] - 680) + 3.0 * (df["debt_to_income"] - 0.3)
         + 0.08 * df["interest_rate"] + 0.5 * df["delinquencies_2y"] - 2.0)
    df["y"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(int)
    return df


def fit_model(df: pd.DataFrame) -> LogisticRegression:
    # newton-cholesky converges on these unscaled features (lbfgs would warn); the fitted
    # model predicts exactly like any other LogisticRegression.
    return LogisticRegression(solver="newton-cholesky", max_iter=200).fit(df[FEATURES], df["y"])


def payloads(df: pd.DataFrame, n: int = 256) -> list[dict[str, Any]]:
    """``n`` single-record request bodies (plain floats) taken from ``df``."""
    rows = df[FEATURES].head(n).to_dict(orient="records")
    return [{k: float(v) for k, v in row.items()} for row in rows]


def big_payloads(df: pd.DataFrame, size: int = 1000, n: int = 4) -> list[list[dict[str, Any]]]:
    """``n`` request bodies of ``size`` records each (rows taken in turn from ``df``)."""
    rows = payloads(df, len(df))
    return [[rows[(k * size + i) % len(rows)] for i in range(size)] for k in range(n)]


def numpy_copy(model: LogisticRegression) -> LogisticRegression:
    """The same fitted model as someone who fitted it on ``df[FEATURES].to_numpy()`` has
    it: identical coefficients, no ``feature_names_in_`` (so NumPy rows raise no
    feature-name warning)."""
    import copy

    twin = copy.deepcopy(model)
    del twin.feature_names_in_
    return twin


def build(folder: Path, n_train: int = 5000, seed: int = 7) -> tuple[Path, pd.DataFrame]:
    """Fit the model, save it as ``model.joblib`` in ``folder`` (and its NumPy-fitted twin
    as ``model-numpy.joblib``, for the bare NumPy endpoint); return (path, data)."""
    df = make_frame(n_train, seed)
    path = folder / "model.joblib"
    model = fit_model(df)
    joblib.dump(model, path)
    joblib.dump(numpy_copy(model), folder / "model-numpy.joblib")
    return path, df
