"""Python ``module:object`` models: a file copied into the store, or an importable module."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from rampup.errors import FlavorError, ModelError, NotFoundError
from rampup.registry import FeatureBatch, Registry
from rampup.registry.flavors import detect_flavor

from .conftest import Trained

PYMODELS = Path(__file__).parent / "pymodels"

SCORER = '''
import numpy as np

class Scorer:
    feature_names = ["income", "age"]
    classes_ = np.array(["low", "high"])

    def predict(self, frame):
        return np.where(frame["age"].to_numpy() > {cut}, "high", "low")

    def predict_proba(self, frame):
        p = (frame["age"].to_numpy() > {cut}).astype(float) * 0.8 + 0.1
        return np.column_stack([1 - p, p])
'''


def _write(path: Path, cut: int) -> Path:
    path.write_text(SCORER.replace("{cut}", str(cut)))
    return path


def test_file_object_with_reference(registry: Registry, loan: Trained, tmp_path: Path) -> None:
    src = _write(tmp_path / "scorer.py", 50)
    path_before = list(sys.path)
    record = registry.register("rule", f"{src}:Scorer", reference=loan.reference,
                               label_column="default")
    assert record.flavor == "python"
    assert record.artifact_uri == "artifacts:rule/v1/scorer.py:Scorer"
    assert record.artifact_hash == "sha256:" + hashlib.sha256(src.read_bytes()).hexdigest()
    assert [(f["name"], f["dtype"]) for f in record.input_schema["features"]] == [
        ("income", "float"), ("age", "int")]
    assert record.output == {"kind": "class", "classes": ["low", "high"],
                             "has_probabilities": True}
    out = registry.load(record).predict(FeatureBatch({"income": [1.0, None], "age": [70, 20]}, 2))
    assert out.predictions == ["high", "low"]
    assert out.probabilities == [{"low": pytest.approx(0.1), "high": pytest.approx(0.9)},
                                 {"low": pytest.approx(0.9), "high": pytest.approx(0.1)}]
    assert out.confidence == [pytest.approx(0.9), pytest.approx(0.9)]
    assert sys.path == path_before


def test_two_versions_of_the_same_file_name_stay_apart(registry: Registry, loan: Trained,
                                                       tmp_path: Path) -> None:
    src = _write(tmp_path / "scorer.py", 50)
    v1 = registry.register("rule", f"{src}:Scorer", reference=loan.reference)
    _write(src, 25)
    v2 = registry.register("rule", f"{src}:Scorer", reference=loan.reference)
    assert (v1.version, v2.version) == ("v1", "v2")
    batch = FeatureBatch({"income": [1.0], "age": [40]}, 1)
    p1, p2 = registry.load(v1), registry.load(v2)
    assert p1.predict(batch).predictions == ["low"]
    assert p2.predict(batch).predictions == ["high"]


def test_importable_module_object(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PYMODELS))
    record = registry.register("scorer", "rampup_test_scorer:Scorer")
    assert record.artifact_uri == "python:rampup_test_scorer:Scorer"
    source = (PYMODELS / "rampup_test_scorer.py").read_bytes()
    assert record.artifact_hash == "sha256:" + hashlib.sha256(source).hexdigest()
    assert record.output["classes"] == ["approve", "reject"]
    out = registry.load(record).predict(FeatureBatch({"income": [1.0, 2.0], "age": [18, 80]}, 2))
    assert out.predictions == ["approve", "reject"]
    assert out.probabilities == [{"approve": 1.0, "reject": 0.0}, {"approve": 0.0, "reject": 1.0}]
    assert registry.register("scorer", "rampup_test_scorer:Scorer").version == "v1"


def test_free_form_model_gets_raw_records(registry: Registry, tmp_path: Path) -> None:
    src = tmp_path / "echo.py"
    src.write_text("def _n(r):\n    return len(r.get('text', ''))\n\n"
                   "class Echo:\n    def predict(self, records):\n"
                   "        return [{'length': _n(r)} for r in records]\n\n"
                   "echo = Echo()\n")
    record = registry.register("echo", f"{src}:echo")
    assert record.input_schema == {"features": [], "allow_extra": True}
    assert record.output["kind"] == "free"
    out = registry.load(record).predict(FeatureBatch({}, 2, raw=[{"text": "abc"}, {}]))
    assert out.predictions == [{"length": 3}, {"length": 0}]


def test_bad_python_specs(registry: Registry, tmp_path: Path) -> None:
    assert detect_flavor("pkg.mod:Obj").name == "python"
    src = tmp_path / "nopredict.py"
    src.write_text("class Thing:\n    pass\n")
    with pytest.raises(FlavorError, match="has no predict method"):
        registry.register("thing", f"{src}:Thing")
    with pytest.raises(FlavorError, match="has no attribute 'Missing'"):
        registry.register("thing", f"{src}:Missing")
    with pytest.raises(NotFoundError, match="does not exist"):
        registry.register("thing", f"{tmp_path / 'nope.py'}:Thing")
    with pytest.raises(NotFoundError, match="cannot be found"):
        registry.register("thing", "no_such_module_anywhere:Thing")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom at import')\n")
    with pytest.raises(ModelError, match="boom at import"):
        registry.register("thing", f"{broken}:X")
    assert registry.versions("thing") == []
