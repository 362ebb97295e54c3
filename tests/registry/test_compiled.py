"""Linear models scored by their fitted arithmetic: identical answers or not used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from rampup.registry.flavors.compiled import compile_linear
from rampup.registry.flavors.sklearn import SklearnPredictor, inspect_estimator
from rampup.registry.predictor import FeatureBatch


def _data(n: int = 400, k: int = 5, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k)) * rng.lognormal(0, 2, k)
    return x, x @ rng.normal(size=k) + rng.normal(size=n)


@pytest.mark.parametrize("classes", [2, 4])
def test_logistic_regression_is_compiled_and_answers_bit_for_bit(classes: int) -> None:
    x, y = _data()
    labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1]))
    model = LogisticRegression(max_iter=2000).fit(x, labels)
    scorer = compile_linear(model, x.shape[1], proba=True)
    assert scorer is not None
    assert scorer.link == ("binary" if classes == 2 else "softmax")
    fresh = np.random.default_rng(9).normal(size=(300, x.shape[1])) * 50
    for rows in (fresh, fresh[:1], x):
        assert np.array_equal(scorer.predict_proba(rows.copy()), model.predict_proba(rows))


@pytest.mark.parametrize("cls", [LinearRegression, Ridge])
def test_linear_regressors_are_compiled(cls: type) -> None:
    x, y = _data()
    model = cls().fit(x, y)
    scorer = compile_linear(model, x.shape[1], proba=False)
    assert scorer is not None
    assert np.array_equal(scorer.predict(x), model.predict(x))


def test_what_is_not_a_plain_linear_model_keeps_its_own_methods() -> None:
    x, y = _data()
    labels = y > 0
    assert compile_linear(DecisionTreeClassifier().fit(x, labels), 5, proba=True) is None
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, labels)
    assert compile_linear(pipe, 5, proba=True) is None
    # float32 coefficients would not answer exactly like scikit-learn's own path
    model = LogisticRegression().fit(x, labels)
    model.coef_ = model.coef_.astype(np.float32)
    assert compile_linear(model, 5, proba=True) is None


def test_a_scorer_that_would_differ_is_refused() -> None:
    """The probe is what decides: a model whose predict_proba is not the linear link
    (here, overridden) is never compiled."""
    x, y = _data()

    class Tempered(LogisticRegression):
        def predict_proba(self, X):  # type: ignore[no-untyped-def]
            p = super().predict_proba(X) ** 1.01
            return p / p.sum(axis=1, keepdims=True)

    Tempered.__name__ = "LogisticRegression"
    model = Tempered().fit(x, y > 0)
    assert compile_linear(model, 5, proba=True) is None


def test_the_predictor_answers_like_the_estimator_with_and_without_compilation() -> None:
    x, y = _data()
    names = [f"c{i}" for i in range(x.shape[1])]
    model = LogisticRegression(max_iter=2000).fit(pd.DataFrame(x, columns=names), y > 0)
    schema, output = inspect_estimator(model)
    assert schema is not None
    predictor = SklearnPredictor(model, schema, output)
    assert predictor.compiled is not None  # fitted on a float DataFrame: its NumPy twin
    batch = FeatureBatch({n: x[:50, i].tolist() for i, n in enumerate(names)}, n=50)
    fast = predictor.predict(batch)
    predictor.compiled = None
    slow = predictor.predict(batch)
    assert [fast.record(i) for i in range(50)] == [slow.record(i) for i in range(50)]
    want = model.predict_proba(pd.DataFrame(x[:50], columns=names))
    got = np.array([[fast.record(i)["probabilities"][k] for k in ("False", "True")]
                    for i in range(50)])
    # (the DataFrame path may sum in another order: the NumPy twin's own promise, 1e-9)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
