"""The README tour as written: the bad-input example answers what the demo model says,
and the files the tour writes land in demo-project/ (ignored by git)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rampup.demo.data import FEATURES, LABEL, LoanGenerator
from rampup.demo.train import train_model
from rampup.registry.artifacts import ArtifactStore
from rampup.registry.registry import Registry
from rampup.registry.schema import InputSchema
from rampup.serving.validation import InputErrors, Validator
from rampup.store import Store

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_bad_input_example_is_current(tmp_path: Path) -> None:
    command = "curl -s localhost:8000/v1/models/loan-default/predict -d '{\"age\": \"forty\"}'"
    after = README[README.index(command) + len(command):]
    shown = re.search(r'"message":"([^"]*)"', after)
    assert shown is not None
    frame = LoanGenerator(seed=0).sample(2000)[[*FEATURES, LABEL]]
    frame.to_parquet(tmp_path / "reference.parquet", index=False)
    import joblib

    joblib.dump(train_model(frame, seed=0), tmp_path / "model.joblib")
    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        record = Registry(store, ArtifactStore(tmp_path / "artifacts")).register(
            "loan-default", tmp_path / "model.joblib", reference=tmp_path / "reference.parquet",
            label_column=LABEL)
    finally:
        store.close()
    validator = Validator(InputSchema.from_dict(record.input_schema))
    with pytest.raises(InputErrors) as info:
        validator.validate([json.loads('{"age": "forty"}')])
    assert info.value.message == shown[1]


def test_tour_files_go_to_the_demo_project() -> None:
    outputs = re.findall(r"rampup -p demo-project [^\n]* -o (\S+)", README)
    assert outputs
    assert all(o.startswith("demo-project/") for o in outputs), outputs
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/demo-project/" in ignored
