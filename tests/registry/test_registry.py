"""Registration rules: idempotency, immutability, metadata, deployments, clear errors."""

from __future__ import annotations

import hashlib
import os
import platform
import stat
import subprocess
from pathlib import Path

import joblib
import pandas as pd
import pytest
import sklearn

from rampup.errors import (
    ConfigError,
    ConflictError,
    FlavorError,
    ModelError,
    NotFoundError,
    ValidationError,
)
from rampup.project import FeatureSpec, ProjectFile
from rampup.registry import FeatureBatch, Registry, initial_policy
from rampup.registry.resolve import reference_batch
from rampup.registry.schema import InputSchema

from .conftest import Trained, fit_classifier, loan_frame


def test_reregistering_the_same_artifact_is_idempotent(registry: Registry,
                                                        loan: Trained) -> None:
    first = registry.register("loan", loan.path, reference=loan.reference)
    again = registry.register("loan", loan.path, reference=loan.reference)
    assert again == first
    assert registry.register("loan", loan.path, version="v1") == first
    assert [v.version for v in registry.versions("loan")] == ["v1"]
    assert [e.action for e in registry.store.events.list_events("loan")] == ["deploy", "register"]
    with pytest.raises(ConflictError, match="already registered as loan@v1") as info:
        registry.register("loan", loan.path, version="other")
    assert info.value.fix is not None


def test_versions_are_numbered_and_names_checked(registry: Registry, loan: Trained,
                                                 tmp_path: Path) -> None:
    registry.register("loan", loan.path, version="v2")  # takes the name v2 early
    model2 = tmp_path / "m2.joblib"
    joblib.dump(fit_classifier(loan.frame, c=0.1), model2)
    rec = registry.register("loan", model2)
    assert rec.version == "v3"  # v2 is taken, so the next free v<N>
    assert [(v.version, v.seq) for v in registry.versions("loan")] == [("v2", 1), ("v3", 2)]
    model3 = tmp_path / "m3.joblib"
    joblib.dump(fit_classifier(loan.frame, c=0.01), model3)
    with pytest.raises(ConflictError, match="already exists with different content"):
        registry.register("loan", model3, version="v2")
    with pytest.raises(ConfigError, match="invalid model name"):
        registry.register("Bad Name", loan.path)
    with pytest.raises(ConfigError, match="invalid version name"):
        registry.register("loan", model3, version="../v1")


def test_the_stored_copy_is_what_loads(registry: Registry, loan: Trained,
                                       tmp_path: Path) -> None:
    record = registry.register("loan", loan.path, reference=loan.reference,
                               label_column="default")
    schema = InputSchema.from_dict(record.input_schema)
    batch = reference_batch(loan.frame.drop(columns="default"), schema, 20)
    before = registry.load(record).predict(batch)
    other = fit_classifier(loan_frame(600, seed=99), c=0.01)
    joblib.dump(other, loan.path)  # overwrite the original after registration
    after = registry.load(record).predict(batch)
    assert after == before
    stored = registry.artifacts.path(record.artifact_uri)
    stored.chmod(stored.stat().st_mode | stat.S_IWUSR)
    joblib.dump(other, stored)  # tampering with the copy is detected
    with pytest.raises(ModelError, match="changed since it was registered"):
        registry.load(record)
    os.remove(stored)
    with pytest.raises(NotFoundError, match="artifact of loan@v1 is missing"):
        registry.load(record)


def test_metadata_and_provenance(registry: Registry, loan: Trained) -> None:
    subprocess.run(["git", "init", "-q", str(loan.path.parent)], check=True)
    subprocess.run(["git", "-C", str(loan.path.parent), "-c", "user.name=t", "-c",
                    "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x"],
                   check=True)
    head = subprocess.run(["git", "-C", str(loan.path.parent), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    record = registry.register(
        "loan", loan.path, reference=loan.reference, label_column="default", actor="alice",
        metadata={"params": {"C": 1.0}, "metrics": {"auc": 0.81}, "team": "risk"})
    md = record.metadata
    assert md["params"] == {"C": 1.0}
    assert md["metrics"] == {"auc": 0.81}
    assert md["team"] == "risk"
    assert md["created_by"] == "alice" == record.created_by
    assert md["python"] == platform.python_version()
    assert md["libraries"]["scikit-learn"] == sklearn.__version__
    assert md["git_commit"] == head
    data_hash = "sha256:" + hashlib.sha256(loan.reference.read_bytes()).hexdigest()
    assert md["training_data_hash"] == data_hash
    assert record.profile is not None
    assert record.profile["data_hash"] == data_hash
    assert set(record.profile["features"]) == {"income", "age", "city", "employed"}
    event = registry.store.events.list_events("loan")[-1]
    assert (event.action, event.actor, event.version) == ("register", "alice", "v1")
    assert event.details["artifact_hash"] == record.artifact_hash


def test_no_git_commit_outside_a_repository(registry: Registry, loan: Trained) -> None:
    if subprocess.run(["git", "-C", str(loan.path.parent), "rev-parse", "HEAD"],
                      capture_output=True).returncode == 0:
        pytest.skip("the temporary folder is inside a git repository")
    assert "git_commit" not in registry.register("loan", loan.path).metadata


def test_deployments(registry: Registry, loan: Trained, tmp_path: Path) -> None:
    registry.register("loan", loan.path)
    current = registry.store.deployments.current_deployment("loan")
    assert current is not None
    assert current.policy == {"routes": {"v1": 100.0}, "mirrors": {}, "standby": None}
    assert current.reason == "initial deployment"
    model2 = tmp_path / "m2.joblib"
    joblib.dump(fit_classifier(loan.frame, c=0.1), model2)
    registry.register("loan", model2)  # deploy=None: v1 keeps the traffic
    assert registry.store.deployments.current_deployment("loan") == current
    model3 = tmp_path / "m3.joblib"
    joblib.dump(fit_classifier(loan.frame, c=0.01), model3)
    registry.register("loan", model3, deploy=True)
    latest = registry.store.deployments.current_deployment("loan")
    assert latest is not None
    assert latest.policy == initial_policy("v3")
    registry.register("other", model3, deploy=False)
    assert registry.store.deployments.current_deployment("other") is None


def test_bad_inputs_give_clear_errors(registry: Registry, loan: Trained,
                                      tmp_path: Path) -> None:
    text = tmp_path / "model.txt"
    text.write_text("not a model")
    with pytest.raises(FlavorError, match="cannot tell the flavor"):
        registry.register("m", text)
    with pytest.raises(FlavorError, match="unknown flavor 'tensorflow'"):
        registry.register("m", loan.path, flavor="tensorflow")
    with pytest.raises(NotFoundError, match="does not exist"):
        registry.register("m", tmp_path / "missing.joblib")
    with pytest.raises(ModelError, match="cannot read"):
        registry.register("m", text, flavor="sklearn")
    renamed = loan.frame.rename(columns={"age": "years"})
    with pytest.raises(ValidationError, match=r"expects feature.*age.*does not have"):
        registry.register("m", loan.path, reference=renamed)
    with pytest.raises(ValidationError, match="label column 'target'"):
        registry.register("m", loan.path, reference=loan.reference, label_column="target")
    with pytest.raises(ValidationError, match="without reference data"):
        registry.register("m", loan.path, label_column="default")
    wrong = loan.frame.assign(income="lots")  # strings where the pipeline imputes numbers
    with pytest.raises(ModelError, match="failed to predict on the first 100 reference rows"):
        registry.register("m", loan.path, reference=wrong)
    assert registry.versions("m") == []
    assert not (registry.artifacts.root / "m" / "v1").exists()
    assert registry.store.deployments.current_deployment("m") is None


def test_declared_features_override_inference(registry: Registry, loan: Trained) -> None:
    features = [FeatureSpec(name="income", nullable=True), FeatureSpec(name="age", type="int"),
                FeatureSpec(name="city", type="str", nullable=True,
                            categories=["paris", "rome", "oslo", "lima"], strict_categories=True),
                FeatureSpec(name="employed", type="bool")]
    record = registry.register("loan", loan.path, reference=loan.reference,
                               label_column="default", features=features)
    city = InputSchema.from_dict(record.input_schema).feature("city")
    assert city is not None
    assert city.strict_categories
    assert city.categories == ("paris", "rome", "oslo", "lima")
    with pytest.raises(ValidationError, match="not declared"):
        registry.register("loan2", loan.path, features=features[:2])


def test_get_and_latest(registry: Registry, loan: Trained) -> None:
    with pytest.raises(NotFoundError, match="no registered versions"):
        registry.get("loan", "v1")
    registry.register("loan", loan.path)
    assert registry.latest("loan").version == "v1"
    with pytest.raises(NotFoundError, match="existing versions: v1"):
        registry.get("loan", "v7")


def test_sync_project_registers_declared_versions_once(registry: Registry, loan: Trained,
                                                       tmp_path: Path) -> None:
    project_dir = loan.path.parent
    (project_dir / "rule.py").write_text(
        "class Rule:\n    feature_names = ['age']\n"
        "    def predict(self, frame):\n        return (frame['age'] > 40).tolist()\n")
    project = ProjectFile.model_validate({"models": {
        "loan": {"description": "loan defaults", "versions": {
            "v1": {"artifact": "loan.joblib", "reference": "train.parquet",
                   "label_column": "default", "metadata": {"params": {"C": 1.0}}}}},
        "rule": {"versions": {"baseline": {"artifact": "rule.py:Rule"}}},
    }})
    items = registry.sync_project(project, project_dir)
    assert [(i.model, i.version, i.status) for i in items] == [
        ("loan", "v1", "registered"), ("rule", "baseline", "registered")]
    assert items[0].record.metadata["params"] == {"C": 1.0}
    model = registry.store.models.get_model("loan")
    assert model is not None
    assert model.description == "loan defaults"
    out = registry.load(items[1].record).predict(FeatureBatch({"age": [30, 50]}, 2))
    assert out.predictions == [False, True]
    again = registry.sync_project(project, project_dir)
    assert [i.status for i in again] == ["unchanged", "unchanged"]
    joblib.dump(fit_classifier(loan.frame, c=0.01), loan.path)
    with pytest.raises(ConflictError, match="loan@v1 is registered with a different artifact"):
        registry.sync_project(project, project_dir)


def test_reference_as_dataframe_and_empty_data(registry: Registry, loan: Trained) -> None:
    record = registry.register("loan", loan.path, reference=loan.frame, label_column="default")
    assert record.profile is not None
    assert record.profile["rows"] == len(loan.frame)
    assert record.metadata["training_data_hash"].startswith("sha256:")
    with pytest.raises(ValidationError, match="no rows"):
        registry.register("empty", loan.path, reference=pd.DataFrame(columns=loan.frame.columns))


def test_registration_profiles_the_models_outputs_on_its_reference(
        registry: Registry, loan: Trained) -> None:
    rec = registry.register("loan", loan.path, reference=loan.reference)
    assert rec.profile is not None
    outputs = rec.profile["output"]["features"]
    assert set(outputs) == {"prediction", "confidence"}
    counts = outputs["prediction"]["counts"]
    expected = pd.Series(loan.model.predict(loan.frame.drop(columns="default")))
    assert counts == {str(k): int(v) for k, v in expected.value_counts().items()}
    assert outputs["confidence"]["kind"] == "numeric"
