"""MLflow model folders, built by hand so the tests run without mlflow installed.

No ``from __future__ import annotations`` here: mlflow reads the type hints of a
``PythonModel.predict`` at class creation and warns (in a way no warning filter reaches)
when they are strings it cannot resolve."""

import importlib.util
import json
import pickle
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
import yaml

from rampup.errors import FlavorError, MissingExtraError
from rampup.registry import FeatureBatch, Registry
from rampup.registry.flavors import detect_flavor
from rampup.registry.resolve import reference_batch
from rampup.registry.schema import InputSchema

from .conftest import Trained

SIGNATURE = [
    {"type": "double", "name": "income", "required": False},
    {"type": "long", "name": "age", "required": True},
    {"type": "string", "name": "city", "required": False},
    {"type": "boolean", "name": "employed", "required": True},
]


def _mlmodel_dir(root: Path, model: object, *, fmt: str = "cloudpickle",
                 signature: list[dict[str, object]] | None = None,
                 sklearn_flavor: bool = True) -> Path:
    root.mkdir()
    flavors: dict[str, object] = {"python_function": {
        "loader_module": "mlflow.sklearn", "model_path": "model.pkl", "python_version": "3.11"}}
    if sklearn_flavor:
        flavors["sklearn"] = {"pickled_model": "model.pkl", "serialization_format": fmt,
                              "sklearn_version": "1.5.0", "code": None}
    doc: dict[str, object] = {"artifact_path": "model", "flavors": flavors,
                              "mlflow_version": "2.14.0"}
    if signature is not None:
        doc["signature"] = {"inputs": json.dumps(signature),
                            "outputs": json.dumps([{"type": "long", "required": True}])}
    (root / "MLmodel").write_text(yaml.safe_dump(doc))
    with (root / "model.pkl").open("wb") as f:
        (cloudpickle if fmt == "cloudpickle" else pickle).dump(model, f)
    return root


def test_sklearn_flavor_with_signature(registry: Registry, loan: Trained,
                                       tmp_path: Path) -> None:
    folder = _mlmodel_dir(tmp_path / "mlmodel", loan.model, signature=SIGNATURE)
    assert detect_flavor(folder).name == "mlflow"
    record = registry.register("loan", folder)
    assert record.flavor == "mlflow"
    schema = InputSchema.from_dict(record.input_schema)
    assert [(f.name, f.dtype, f.nullable) for f in schema.features] == [
        ("income", "float", True), ("age", "int", False), ("city", "str", True),
        ("employed", "bool", False)]
    assert record.output == {"kind": "class", "classes": [0, 1], "has_probabilities": True}
    assert record.metadata["libraries"]["scikit-learn"]
    rows = loan.frame.drop(columns="default").iloc[:30]
    out = registry.load(record).predict(reference_batch(rows, schema, 30))
    assert out.predictions == loan.model.predict(rows).tolist()
    assert out.probabilities is not None
    np.testing.assert_allclose([p["1"] for p in out.probabilities],
                               loan.model.predict_proba(rows)[:, 1])
    assert record.artifact_uri == "artifacts:loan/v1/mlmodel"


def test_plain_pickle_without_signature_uses_the_model(registry: Registry, loan: Trained,
                                                       tmp_path: Path) -> None:
    folder = _mlmodel_dir(tmp_path / "m", loan.model, fmt="pickle")
    record = registry.register("loan", folder, reference=loan.reference, label_column="default")
    schema = InputSchema.from_dict(record.input_schema)
    assert schema.names == ["income", "age", "city", "employed"]
    assert schema.features[2].categories == ("lima", "oslo", "paris", "rome")
    assert record.profile is not None
    assert record.profile["label"]["name"] == "default"
    batch = FeatureBatch({"income": [40000.0], "age": [30], "city": [None], "employed": [True]}, 1)
    assert registry.load(record).predict(batch).predictions[0] in (0, 1)


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is not None,
                    reason="mlflow is installed: the pyfunc path works instead")
def test_pyfunc_only_needs_the_mlflow_extra(registry: Registry, loan: Trained,
                                            tmp_path: Path) -> None:
    folder = _mlmodel_dir(tmp_path / "pyfunc", loan.model, sklearn_flavor=False)
    with pytest.raises(MissingExtraError, match="MLflow pyfunc models") as info:
        registry.register("loan", folder)
    assert info.value.fix == "pip install 'rampup[mlflow]'"
    assert registry.versions("loan") == []
    assert not (registry.artifacts.root / "loan" / "v1").exists()


def test_pyfunc_model_through_mlflow(registry: Registry, tmp_path: Path) -> None:
    mlflow = pytest.importorskip("mlflow")
    import pandas as pd

    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
        def predict(self, context: object, model_input: pd.DataFrame,
                    params: object = None) -> list[float]:
            return (model_input["x"] * 2).tolist()

    folder = tmp_path / "pyfunc"
    mlflow.pyfunc.save_model(str(folder), python_model=Doubler())
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    record = registry.register("doubler", folder, reference=ref)
    out = registry.load(record).predict(FeatureBatch({"x": [1.5, 4.0]}, 2))
    assert out.predictions == [3.0, 8.0]


def test_broken_mlmodel_files(registry: Registry, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "MLmodel").write_text("artifact_path: model\n")
    with pytest.raises(FlavorError, match="no 'flavors' section"):
        registry.register("bad", folder)
    (folder / "MLmodel").write_text(yaml.safe_dump(
        {"flavors": {"sklearn": {"pickled_model": "../../etc/passwd"}}}))
    with pytest.raises(FlavorError, match="not a file inside"):
        registry.register("bad", folder)


def test_signature_forms() -> None:
    from rampup.registry.flavors.mlflow import _pyfunc_output, signature_schema
    from rampup.registry.schema import OutputSpec

    tensor = '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]'
    schema = signature_schema(tensor)
    assert schema is not None
    assert schema.names == ["f0", "f1", "f2"]
    assert signature_schema(None) is None
    assert signature_schema("[]") is None
    assert signature_schema([{"type": "tensor", "tensor-spec": {"shape": [-1]}}]) is None
    assert _pyfunc_output('[{"type": "double"}]') == OutputSpec("number")
    assert _pyfunc_output('[{"type": "string"}]') == OutputSpec("free")
    assert _pyfunc_output(None) == OutputSpec("free")


def test_unreadable_mlmodel(registry: Registry, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: [unclosed\n")
    with pytest.raises(FlavorError, match="not valid YAML"):
        registry.register("m", folder)
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": {"sklearn": {}}}))
    with pytest.raises(FlavorError, match="no 'pickled_model'"):
        registry.register("m", folder)
    with pytest.raises(FlavorError, match="not an MLflow model folder"):
        registry.register("m", tmp_path, flavor="mlflow")


def test_missing_extra_when_mlflow_is_absent(registry: Registry, loan: Trained,
                                             tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The slim install: ``import mlflow`` fails, whatever is installed here."""
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)
    folder = _mlmodel_dir(tmp_path / "pyfunc", loan.model, sklearn_flavor=False)
    with pytest.raises(MissingExtraError, match="'mlflow' package") as info:
        registry.register("loan", folder)
    assert info.value.details["extra"] == "mlflow"


def test_skops_format_says_how_to_resave(registry: Registry, loan: Trained,
                                         tmp_path: Path) -> None:
    """MLflow 3 saves scikit-learn models in skops format by default."""
    folder = _mlmodel_dir(tmp_path / "skops", loan.model, fmt="skops")
    with pytest.raises(FlavorError, match="skops format") as info:
        registry.register("loan", folder)
    assert "serialization_format='cloudpickle'" in (info.value.fix or "")
