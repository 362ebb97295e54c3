"""scikit-learn flavor end to end: register → load → predict on a FeatureBatch."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from rampup.registry import FeatureBatch, Registry
from rampup.registry.flavors import detect_flavor
from rampup.registry.resolve import reference_batch
from rampup.registry.schema import InputSchema

from .conftest import Trained


def test_pipeline_classifier_with_reference(registry: Registry, loan: Trained) -> None:
    record = registry.register("loan", loan.path, reference=loan.reference,
                               label_column="default")
    assert record.flavor == "sklearn"
    schema = InputSchema.from_dict(record.input_schema)
    got = {f.name: (f.dtype, f.nullable, f.categories) for f in schema.features}
    assert got == {
        "income": ("float", True, None),
        "age": ("int", False, None),
        "city": ("str", True, ("lima", "oslo", "paris", "rome")),
        "employed": ("bool", False, None),
    }
    assert record.output == {"kind": "class", "classes": [0, 1], "has_probabilities": True}

    predictor = registry.load(record)
    rows = loan.frame.drop(columns="default").iloc[:50]
    batch = reference_batch(rows, schema, 50)
    out = predictor.predict(batch)
    assert out.predictions == loan.model.predict(rows).tolist()
    assert all(type(p) is int for p in out.predictions)
    proba = loan.model.predict_proba(rows)
    assert out.probabilities is not None
    assert out.confidence is not None
    np.testing.assert_allclose([p["1"] for p in out.probabilities], proba[:, 1])
    np.testing.assert_allclose(out.confidence, proba.max(axis=1))
    assert all(type(c) is float for c in out.confidence)


def test_regressor_on_numpy_takes_reference_names(
        registry: Registry, numpy_regressor: tuple[Path, np.ndarray, LinearRegression]) -> None:
    path, x, model = numpy_regressor
    ref = pd.DataFrame(x, columns=["a", "b", "c"]).assign(target=0.0)
    record = registry.register("reg", path, reference=ref, label_column="target")
    assert [f["name"] for f in record.input_schema["features"]] == ["a", "b", "c"]
    assert record.output["kind"] == "number"
    batch = FeatureBatch({"a": x[:5, 0].tolist(), "b": x[:5, 1].tolist(),
                          "c": x[:5, 2].tolist()}, 5)
    out = registry.load(record).predict(batch)
    np.testing.assert_allclose(out.predictions, model.predict(x[:5]))
    assert out.probabilities is None
    assert out.confidence is None


def test_regressor_without_reference_gets_positional_names(
        registry: Registry, numpy_regressor: tuple[Path, np.ndarray, LinearRegression]) -> None:
    path, x, model = numpy_regressor
    record = registry.register("reg", path)
    assert [f["name"] for f in record.input_schema["features"]] == ["f0", "f1", "f2"]
    assert record.profile is None
    batch = FeatureBatch({f"f{i}": x[:3, i].tolist() for i in range(3)}, 3)
    np.testing.assert_allclose(registry.load(record).predict(batch).predictions,
                               model.predict(x[:3]))


def test_classifier_without_probabilities_and_string_classes(registry: Registry,
                                                             tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"u": rng.normal(size=200), "v": rng.normal(size=200)})
    y = np.where(df["u"] + df["v"] > 0, "yes", "no")
    svc = LinearSVC().fit(df, y)
    joblib.dump(svc, tmp_path / "svc.joblib")
    record = registry.register("svc", tmp_path / "svc.joblib", reference=df)
    assert record.output == {"kind": "class", "classes": ["no", "yes"],
                             "has_probabilities": False}
    out = registry.load(record).predict(reference_batch(df, InputSchema.from_dict(
        record.input_schema), 20))
    assert out.predictions == svc.predict(df.iloc[:20]).tolist()
    assert out.probabilities is None
    assert all(type(p) is str for p in out.predictions)

    tree = DecisionTreeClassifier(random_state=0).fit(df, df["u"] > 0)
    joblib.dump(tree, tmp_path / "tree.pkl")
    rec2 = registry.register("tree", tmp_path / "tree.pkl", reference=df)
    assert rec2.output["classes"] == [False, True]
    out2 = registry.load(rec2).predict(reference_batch(df, InputSchema.from_dict(
        rec2.input_schema), 5))
    assert out2.probabilities is not None
    assert set(out2.probabilities[0]) == {"False", "True"}


@pytest.mark.parametrize("name", ["m.joblib", "m.pkl", "m.PICKLE"])
def test_detects_pickle_suffixes(tmp_path: Path, name: str) -> None:
    assert detect_flavor(tmp_path / name).name == "sklearn"


def test_pipeline_alone_reveals_categorical_and_nullable_columns(registry: Registry,
                                                                 loan: Trained) -> None:
    """Without reference data, fitted encoders and imputers say what the columns hold."""
    record = registry.register("loan", loan.path)
    schema = InputSchema.from_dict(record.input_schema)
    got = {f.name: (f.dtype, f.nullable, f.categories) for f in schema.features}
    assert got == {
        "income": ("float", True, None),
        "age": ("float", True, None),
        "city": ("str", True, ("lima", "oslo", "paris", "rome")),  # imputer fill left out
        "employed": ("bool", True, None),
    }
    batch = FeatureBatch({"income": [None], "age": [33], "city": ["rome"],
                          "employed": [False]}, 1)
    rows = pd.DataFrame({"income": [np.nan], "age": [33], "city": ["rome"], "employed": [False]})
    assert registry.load(record).predict(batch).predictions == loan.model.predict(rows).tolist()
