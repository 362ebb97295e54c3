"""Linear scikit-learn models scored by their own fitted arithmetic, in NumPy.

A fitted ``LogisticRegression`` answers a one-row request in ~100 µs, of which the
arithmetic (one dot product, one logistic) is ~3 µs: the rest is scikit-learn checking
its input again — types, finiteness, feature names, array namespace — after rampup's
validator has already checked every value against the schema. For the estimators below
the predictor scores with the same operations scikit-learn runs after those checks
(``X @ coef_.T + intercept_``, then ``expit`` or ``softmax`` exactly as scikit-learn
applies them), and only after a probe at load time shows the answers **bit for bit
equal** to the estimator's own ``predict_proba``/``predict`` (any difference, warning or
error keeps the estimator's own method). ``compiled: false`` on a model's spec switches
it off.

>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> x = np.random.default_rng(0).normal(size=(200, 3))
>>> model = LogisticRegression().fit(x, x[:, 0] > 0)
>>> scorer = compile_linear(model, 3, proba=True)
>>> np.array_equal(scorer.predict_proba(x), model.predict_proba(x))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: classifiers whose predict_proba is expit (binary) / softmax (multiclass) of the linear
#: decision; regressors whose predict is the linear decision itself
_CLASSIFIERS = frozenset({"LogisticRegression", "LogisticRegressionCV"})
_REGRESSORS = frozenset({"LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV",
                         "ElasticNet", "ElasticNetCV"})


class LinearScorer:
    """``X @ coef_.T + intercept_`` and the estimator's own link (see the module doc)."""

    def __init__(self, coef_t: np.ndarray, intercept: np.ndarray | float, link: str) -> None:
        self.coef_t = coef_t
        self.intercept = intercept
        self.link = link  # "binary" | "softmax" | "identity"

    def decision(self, x: np.ndarray) -> np.ndarray:
        scores: np.ndarray = x @ self.coef_t + self.intercept
        return scores.reshape(-1) if scores.ndim > 1 and scores.shape[1] == 1 else scores

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        prob = self.decision(x)
        if self.link == "binary":
            prob = expit(prob, out=prob)
            return np.stack([1 - prob, prob], axis=1)
        prob -= prob.max(axis=1).reshape(-1, 1)  # scikit-learn's softmax, step by step
        np.exp(prob, out=prob)
        prob /= prob.sum(axis=1).reshape(-1, 1)
        return prob

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.decision(x)


def probe_rows(n_features: int) -> np.ndarray:
    """Seeded rows a fitted model is asked about at load time before a faster way of
    calling it is trusted: zeros, ones, small normal values and large ones of both signs."""
    rng = np.random.default_rng(20261207)
    return np.vstack([np.zeros(n_features), np.ones(n_features),
                      rng.normal(0.0, 1.0, (16, n_features)),
                      rng.lognormal(3.0, 2.0, (16, n_features)) * rng.choice([-1, 1], (16, 1))])


def _scorer(model: Any) -> LinearScorer | None:
    name = type(model).__name__
    coef = getattr(model, "coef_", None)
    if not isinstance(coef, np.ndarray) or coef.dtype != np.float64:
        return None  # sparse or float32 coefficients: leave them to scikit-learn
    intercept = getattr(model, "intercept_", 0.0)
    coef_t = coef.T if coef.ndim == 2 else coef
    if name in _CLASSIFIERS:
        classes = getattr(model, "classes_", None)
        if classes is None or coef.ndim != 2:
            return None
        return LinearScorer(coef_t, intercept, "binary" if len(classes) <= 2 else "softmax")
    if name in _REGRESSORS:
        return LinearScorer(coef_t, intercept, "identity")
    return None


def compile_linear(model: Any, n_features: int, proba: bool) -> LinearScorer | None:
    """A :class:`LinearScorer` answering exactly like ``model`` on a NumPy block of
    ``n_features`` columns, or None (not a supported estimator, or the probe differs)."""
    import warnings

    scorer = _scorer(model)
    if scorer is None:
        return None
    probe = probe_rows(n_features)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for rows in (probe, probe[:1]):  # a whole batch, and the one-row case
                if proba:
                    if not np.array_equal(np.asarray(model.predict_proba(rows)),
                                          scorer.predict_proba(rows.copy())):
                        return None
                elif not np.array_equal(np.asarray(model.predict(rows)),
                                        scorer.predict(rows.copy())):
                    return None
    except Exception:
        return None
    return None if caught else scorer
