"""Multivariate drift: can a classifier tell current rows from reference rows?

Per-feature tests miss changes in how features move together (a correlation that flips
leaves every marginal alone). A domain classifier sees the joint distribution: label the
reference rows 0 and the current rows 1, fit a model on one half of the rows and score
the other half, then swap the halves (2-fold cross-fitting). Without drift no model can
separate them, so on rows it was not fitted on its scores are independent of the labels
and the one-sided Mann-Whitney test of the held-out ROC AUC (AUC = U / (n_ref * n_cur))
is exact. The p-value is the Bonferroni combination of the two halves (``2 * min``).
Pooling out-of-fold scores of ordinary k-fold cross-validation into one Mann-Whitney test
looks similar but is not valid: it false-alarms on about 12 % of no-drift windows at a
5 % level (the fold models share training rows). Cost is bounded by subsampling each side
to ``max_rows`` rows (about 0.3 s for 2000 + 2000 rows x 20 features, one thread).

A drift verdict needs the p-value at ``alpha`` and an AUC of at least ``min_auc``
(0.55 by default: a classifier that is right 55 % of the time on a pair). In a report the
p-value is adjusted together with the feature tests' (one error budget, see
:func:`~rampup.drift.report.build_report`).

When the p-value is at ``alpha`` or below, the result names the features that separate
the windows (``top_features``): permutation importance on the held-out halves, the drop
of held-out AUC when one column's values are shuffled (averaged over the two halves), so
"AUC 0.8" comes with "mostly ``income``, some ``age``". Not computed otherwise (a column
at a time costs one prediction per half; a window that does not separate has nothing to
name).

>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(600, 2))
>>> ref = pd.DataFrame(x[:300], columns=["a", "b"])
>>> cur = pd.DataFrame({"a": x[300:, 0], "b": -x[300:, 0] + 0.1 * x[300:, 1]})
>>> r = domain_classifier(ref, cur, model="hgb", seed=0)
>>> r.drifted, round(r.auc, 1) >= 0.9
(True, True)
>>> sorted(name for name, _ in r.top_features)
['a', 'b']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from rampup.drift.report import DomainResult
from rampup.drift.tables import encode, importances, two_tables
from rampup.errors import ValidationError

#: ``hgb`` and ``logistic``: a scikit-learn domain classifier; ``qda``: the quadratic
#: discriminant of :mod:`rampup.drift.discriminant` (NumPy only).
MODELS = ("hgb", "logistic", "qda")
def _scorer(clf: Any) -> Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]]:
    """The fitted classifier's probability of "current" for rows."""
    return lambda rows: np.asarray(clf.predict_proba(rows)[:, 1])


def _model(name: str, categorical: list[bool], seed: int) -> Any:
    if name == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier
        return HistGradientBoostingClassifier(
            max_iter=50, learning_rate=0.1, max_leaf_nodes=15, early_stopping=False,
            categorical_features=np.asarray(categorical) if any(categorical) else None,
            random_state=seed)
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(max_iter=1000))


def domain_classifier(reference: pd.DataFrame, current: pd.DataFrame,
                      columns: Sequence[str] | None = None, *, model: str = "hgb",
                      max_rows: int = 2000, alpha: float = 0.05,
                      min_auc: float = 0.55, seed: int = 0) -> DomainResult:
    """Held-out ROC AUC of reference-vs-current (mean of two halves), with its p-value.

    ``columns`` defaults to the columns both tables share. ``model``: ``hgb``
    (histogram gradient boosting: interactions and non-linear changes) or ``logistic``
    (linear, for small windows), or ``qda``
    (:func:`~rampup.drift.discriminant.discriminant_test`: the same construction with a
    quadratic discriminant fitted in NumPy, no scikit-learn).
    """
    if model == "qda":
        from rampup.drift.discriminant import discriminant_test

        return discriminant_test(reference, current, columns, max_rows=max_rows,
                                 alpha=alpha, min_auc=min_auc, seed=seed)
    from scipy import stats as sps
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    if model not in MODELS:
        raise ValidationError(f"unknown multivariate test {model!r}",
                              fix="use " + ", ".join(MODELS))
    rng = np.random.default_rng(seed)
    cols, ref, cur = two_tables(reference, current, columns, max_rows, rng)
    n_ref, n_cur = len(ref), len(cur)
    if min(n_ref, n_cur) < 4:
        return DomainResult(math.nan, math.nan, n_ref, n_cur, model, 0, min_auc=min_auc,
                            alpha=alpha)
    x, categorical = encode(ref, cur, cols)
    y = np.r_[np.zeros(n_ref, dtype=np.int64), np.ones(n_cur, dtype=np.int64)]
    halves = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    aucs, ps, fitted = [], [], []
    # One thread: OpenMP spinning on a busy machine costs more than it saves at this size.
    with threadpool_limits(limits=1):
        for fit, held in halves.split(x, y):
            clf = _model(model, categorical, seed).fit(x[fit], y[fit])
            s = clf.predict_proba(x[held])[:, 1]
            aucs.append(float(roc_auc_score(y[held], s)))
            yh = y[held]
            ps.append(float(sps.mannwhitneyu(s[yh == 1], s[yh == 0],
                                             alternative="greater").pvalue))
            fitted.append((_scorer(clf), held))
        p = min(1.0, 2 * min(ps))
        top = importances(fitted, x, y, aucs, cols, rng) if p <= alpha else ()
    return DomainResult(float(np.mean(aucs)), p, n_ref, n_cur, model, 2,
                        top_features=top, min_auc=min_auc, alpha=alpha)
