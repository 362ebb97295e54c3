"""ONNX flavor end to end, with models converted by skl2onnx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from rampup.registry import FeatureBatch, Registry
from rampup.registry.resolve import reference_batch
from rampup.registry.schema import InputSchema


def _save(model: Any, path: Path, inputs: list[tuple[str, Any]],
          options: dict[Any, Any] | None = None) -> Path:
    onx = convert_sklearn(model, initial_types=inputs, options=options)
    path.write_bytes(onx.SerializeToString())
    return path


def _data(seed: int, n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, 4)), columns=["w", "x", "y", "z"])
    label = (df["w"] - df["y"] + rng.normal(0, 0.3, n) > 0).astype(int).to_numpy()
    return df, label


@pytest.mark.parametrize("zipmap", [True, False])
def test_matrix_classifier_named_from_reference(registry: Registry, tmp_path: Path,
                                                zipmap: bool) -> None:
    df, y = _data(1)
    clf = LogisticRegression().fit(df.to_numpy(np.float32), y)
    options = None if zipmap else {id(clf): {"zipmap": False}}
    path = _save(clf, tmp_path / "clf.onnx", [("input", FloatTensorType([None, 4]))], options)
    record = registry.register("clf", path, reference=df.assign(label=y), label_column="label")
    assert record.flavor == "onnx"
    assert [f["name"] for f in record.input_schema["features"]] == ["w", "x", "y", "z"]
    assert record.output == {"kind": "class", "classes": [0, 1], "has_probabilities": True}
    out = registry.load(record).predict(
        reference_batch(df, InputSchema.from_dict(record.input_schema), 40))
    x = df.to_numpy(np.float32)[:40]
    assert out.predictions == clf.predict(x).tolist()
    assert all(type(p) is int for p in out.predictions)
    assert out.probabilities is not None
    assert out.confidence is not None
    np.testing.assert_allclose([p["1"] for p in out.probabilities], clf.predict_proba(x)[:, 1],
                               atol=1e-5)
    np.testing.assert_allclose(out.confidence, clf.predict_proba(x).max(axis=1), atol=1e-5)


def test_matrix_regressor_without_reference(registry: Registry, tmp_path: Path) -> None:
    df, _ = _data(2)
    target = df @ np.array([1.0, 2.0, -1.0, 0.5])
    reg = LinearRegression().fit(df.to_numpy(np.float32), target)
    path = _save(reg, tmp_path / "reg.onnx", [("input", FloatTensorType([None, 4]))])
    record = registry.register("reg", path)
    assert [f["name"] for f in record.input_schema["features"]] == ["f0", "f1", "f2", "f3"]
    assert record.output["kind"] == "number"
    rows = df.to_numpy()[:7]
    batch = FeatureBatch({f"f{i}": rows[:, i].tolist() for i in range(4)}, 7)
    out = registry.load(record).predict(batch)
    assert all(type(p) is float for p in out.predictions)
    np.testing.assert_allclose(out.predictions, reg.predict(rows.astype(np.float32)), rtol=1e-4)


def test_one_input_per_column_with_strings(registry: Registry, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame({"age": rng.integers(18, 80, n), "income": rng.normal(50, 10, n),
                       "city": rng.choice(["paris", "rome", "oslo"], n)})
    y = np.where((df["city"] == "rome") | (df["age"] > 60), "bad", "good")
    pipe = Pipeline([
        ("pre", ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                                   ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"])])),
        ("lr", LogisticRegression(max_iter=500)),
    ]).fit(df, y)
    path = _save(pipe, tmp_path / "pipe.onnx", [
        ("age", Int64TensorType([None, 1])), ("income", FloatTensorType([None, 1])),
        ("city", StringTensorType([None, 1]))])
    record = registry.register("pipe", path, reference=df.assign(y=y), label_column="y")
    schema = InputSchema.from_dict(record.input_schema)
    assert [(f.name, f.dtype) for f in schema.features] == [
        ("age", "int"), ("income", "float"), ("city", "str")]
    assert schema.features[2].categories == ("oslo", "paris", "rome")
    assert record.output["classes"] == ["bad", "good"]
    out = registry.load(record).predict(reference_batch(df, schema, 60))
    assert out.predictions == pipe.predict(df.iloc[:60]).tolist()
    assert out.probabilities is not None
    np.testing.assert_allclose([p["bad"] for p in out.probabilities],
                               pipe.predict_proba(df.iloc[:60])[:, 0], atol=1e-4)



def test_missing_extra_when_onnxruntime_is_absent(registry: Registry, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The slim install: ``import onnxruntime`` fails."""
    import sys

    from rampup.errors import MissingExtraError

    df, y = _data(3)
    path = _save(LogisticRegression().fit(df.to_numpy(np.float32), y), tmp_path / "m.onnx",
                 [("input", FloatTensorType([None, 4]))])
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match="ONNX models") as info:
        registry.register("m", path)
    assert info.value.fix == "pip install 'rampup[onnx]'"


def test_invalid_onnx_file(registry: Registry, tmp_path: Path) -> None:
    from rampup.errors import ModelError

    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a protobuf")
    with pytest.raises(ModelError, match=r"onnxruntime cannot load broken\.onnx"):
        registry.register("m", path)
