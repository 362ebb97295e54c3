"""Regression error as a mergeable statistic: MAE, RMSE, R², bias from six numbers.

The true values' mean and spread are kept as (mean, sum of squared deviations) and
merged with Chan's formula, so R² stays accurate when the target has a large offset.

>>> a = RegressionStats.from_arrays([1.0, 2.0, 3.0], [1.5, 2.0, 2.0])
>>> b = RegressionStats.from_arrays([4.0], [5.0])
>>> whole = RegressionStats.from_arrays([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 5.0])
>>> abs((a + b).r2 - whole.r2) < 1e-12, round(whole.mae, 3), round(whole.bias, 3)
(True, 0.625, 0.125)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rampup.errors import ValidationError

REGRESSION_METRICS: dict[str, str] = {
    "mae": "mean absolute error",
    "rmse": "root mean squared error",
    "mse": "mean squared error",
    "r2": "coefficient of determination (1 - SSE / SST)",
    "bias": "mean of prediction - truth",
}


def as_float(values: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be numbers for regression metrics",
                              fix="pass a numeric column") from None
    if np.isnan(out).any():
        raise ValidationError(f"{what} has {int(np.isnan(out).sum())} missing value(s)",
                              fix=f"drop the rows without a {what} first")
    return out


@dataclass(frozen=True)
class RegressionStats:
    """Sufficient statistics of (truth, prediction) pairs; ``+`` merges."""

    n: int = 0
    mean_true: float = 0.0
    ss_true: float = 0.0  # sum of squared deviations of the truth from its mean
    sum_residual: float = 0.0  # residual = prediction - truth
    sum_abs_residual: float = 0.0
    sum_sq_residual: float = 0.0

    @classmethod
    def from_arrays(cls, y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> RegressionStats:
        t = as_float(y_true, "labels")
        p = as_float(y_pred, "predictions")
        if len(t) != len(p):
            raise ValidationError(f"{len(t)} labels but {len(p)} predictions",
                                  fix="pass one prediction per label")
        if not len(t):
            return cls()
        r = p - t
        mean = float(t.mean())
        return cls(len(t), mean, float(((t - mean) ** 2).sum()), float(r.sum()),
                   float(np.abs(r).sum()), float((r * r).sum()))

    def merge(self, other: RegressionStats) -> RegressionStats:
        if not other.n:
            return self
        if not self.n:
            return other
        n = self.n + other.n
        delta = other.mean_true - self.mean_true
        return RegressionStats(
            n, self.mean_true + delta * other.n / n,
            self.ss_true + other.ss_true + delta * delta * self.n * other.n / n,
            self.sum_residual + other.sum_residual,
            self.sum_abs_residual + other.sum_abs_residual,
            self.sum_sq_residual + other.sum_sq_residual)

    __add__ = merge

    @property
    def mae(self) -> float:
        return self.sum_abs_residual / self.n if self.n else math.nan

    @property
    def mse(self) -> float:
        return self.sum_sq_residual / self.n if self.n else math.nan

    @property
    def rmse(self) -> float:
        return math.sqrt(self.mse) if self.n else math.nan

    @property
    def bias(self) -> float:
        return self.sum_residual / self.n if self.n else math.nan

    @property
    def r2(self) -> float:
        """As scikit-learn's ``r2_score``: 1 for a perfect fit of a constant truth, else 0."""
        if not self.n:
            return math.nan
        if self.ss_true == 0:
            return 1.0 if self.sum_sq_residual == 0 else 0.0
        return 1.0 - self.sum_sq_residual / self.ss_true

    def metric(self, name: str) -> float:
        if name not in REGRESSION_METRICS:
            raise ValidationError(f"unknown regression metric {name!r}",
                                  fix=f"use one of: {', '.join(REGRESSION_METRICS)}")
        return float(getattr(self, name))
