"""The confidence the automation level compares with its threshold.

Three sources: the model's max class probability (default); a *calibrated* variant, a
monotone map from that score to the observed probability of being right, fitted on
labelled predictions (isotonic regression or Platt scaling, stored per model and
version as plain numbers so serving applies it with ``numpy.interp``); or a user
function ``module:function`` taking ``(record, output)`` — e.g. a regression model's own
uncertainty turned into a score.

>>> cal = Calibrator("isotonic", x=[0.5, 0.9], y=[0.6, 0.8], n=100)
>>> cal.apply([0.5, 0.7, None, 1.0])
[0.6, 0.7, None, 0.8]
>>> Calibrator.from_dict(cal.to_dict()) == cal
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rampup.errors import ConfigError, ValidationError

ConfidenceFn = Callable[[Any, Any], float | None]
MIN_CALIBRATION_ROWS = 30


@dataclass(frozen=True)
class Calibrator:
    """``isotonic``: knots ``x -> y`` (linear between, flat outside); ``platt``:
    ``1 / (1 + exp(-(a * conf + b)))``."""

    method: str
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0
    n: int = 0

    def apply(self, values: Sequence[float | None]) -> list[float | None]:
        arr = np.array([np.nan if v is None else v for v in values], dtype=float)
        if self.method == "isotonic":
            out = np.interp(arr, self.x, self.y)
        else:
            out = 1.0 / (1.0 + np.exp(-(self.a * arr + self.b)))
        return [None if np.isnan(v) else round(float(v), 6) for v in out]

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": self.x, "y": self.y, "a": self.a, "b": self.b,
                "n": self.n}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        return cls(d["method"], list(d.get("x", [])), list(d.get("y", [])),
                   float(d.get("a", 1.0)), float(d.get("b", 0.0)), int(d.get("n", 0)))


def fit_calibrator(confidence: Sequence[float] | np.ndarray[Any, Any],
                   correct: Sequence[bool] | np.ndarray[Any, Any],
                   method: str = "isotonic") -> Calibrator:
    """Fit a calibration map on (confidence, was the prediction right) pairs."""
    x = np.asarray(confidence, dtype=float)
    y = np.asarray(correct, dtype=float)
    if len(x) != len(y):
        raise ValidationError("confidence and correct differ in length",
                              fix="pass one flag per confidence")
    keep = ~np.isnan(x)
    x, y = x[keep], y[keep]
    if len(x) < MIN_CALIBRATION_ROWS:
        raise ValidationError(f"only {len(x)} labelled predictions with a confidence; "
                              f"calibration needs at least {MIN_CALIBRATION_ROWS}",
                              fix="collect more labels (review decisions or feedback)",
                              field="labels")
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
        return Calibrator("isotonic", [float(v) for v in iso.X_thresholds_],
                          [float(v) for v in iso.y_thresholds_], n=len(x))
    if method == "platt":
        if len(np.unique(y)) < 2:
            raise ValidationError("Platt scaling needs both right and wrong predictions",
                                  fix="use --method isotonic or collect more labels",
                                  field="labels")
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000).fit(x.reshape(-1, 1), y.astype(int))
        return Calibrator("platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]),
                          n=len(x))
    raise ValidationError(f"unknown calibration method {method!r}", field="method",
                          fix="use isotonic or platt")


def load_function(path: str) -> ConfidenceFn:
    """Import ``module:function`` (a confidence function)."""
    module, _, name = path.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import confidence function {path!r}: {exc}",
                          fix="check automation.confidence_function (module:function, "
                              "importable by the server)") from None
    if not callable(obj):
        raise ConfigError(f"confidence function {path!r} is not callable",
                          fix="point confidence_function at a function")
    fn: ConfidenceFn = obj
    return fn
