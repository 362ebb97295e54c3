"""Request bodies: synthetic rows follow the reference profile; files; privacy scrubbing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rampup.errors import NotFoundError, ValidationError
from rampup.loadtest import bodies
from rampup.project import ProjectFile, parse_project
from rampup.registry.profile import compute_profile, infer_schema


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 4000
    income = rng.lognormal(10, 0.5, n)
    income[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"income": income, "age": rng.integers(18, 80, n),
                         "city": rng.choice(["oslo", "rome", "lima"], n, p=[0.6, 0.3, 0.1]),
                         "member": rng.random(n) < 0.3})


def test_synthetic_rows_follow_the_reference_profile(frame: pd.DataFrame) -> None:
    schema = infer_schema(frame)
    profile = compute_profile(frame, schema)
    rows = bodies.synthetic(schema.to_dict(), profile, 5000, seed=1)
    got = pd.DataFrame(rows)
    income = got["income"].dropna()
    assert got["income"].isna().mean() == pytest.approx(0.1, abs=0.02)
    assert stats.ks_2samp(income, frame["income"].dropna()).pvalue > 0.001
    assert got["age"].map(type).eq(int).all()
    assert got["age"].between(18, 79).all()
    shares = got["city"].value_counts(normalize=True)
    assert shares["oslo"] == pytest.approx(0.6, abs=0.03)
    assert shares["lima"] == pytest.approx(0.1, abs=0.02)
    assert got["member"].map(type).eq(bool).all()
    assert got["member"].mean() == pytest.approx(0.3, abs=0.03)
    assert rows == bodies.synthetic(schema.to_dict(), profile, 5000, seed=1)  # seeded


def test_synthetic_rows_from_a_schema_alone() -> None:
    schema = {"features": [{"name": "x"}, {"name": "n", "dtype": "int"},
                           {"name": "b", "dtype": "bool"},
                           {"name": "t", "dtype": "str", "min_length": 3, "max_length": 5},
                           {"name": "c", "dtype": "str", "categories": ["u", "v"]}]}
    for row in bodies.synthetic(schema, None, 200, seed=2):
        assert isinstance(row["x"], float)
        assert isinstance(row["n"], int)
        assert isinstance(row["b"], bool)
        assert 3 <= len(row["t"]) <= 5
        assert row["c"] in "uv"


def test_free_form_models_need_data() -> None:
    with pytest.raises(ValidationError) as err:
        bodies.synthetic({"features": [], "allow_extra": True}, None, 10)
    assert "--data" in (err.value.fix or "")


def test_rows_from_files(tmp_path: Path, frame: pd.DataFrame) -> None:
    frame.head(50).assign(label=1).to_csv(tmp_path / "d.csv", index=False)
    frame.head(50).to_parquet(tmp_path / "d.parquet")
    (tmp_path / "d.jsonl").write_text('{"income": 1.5, "age": 3}\n\n{"income": null}\n')
    csv = bodies.from_file(tmp_path / "d.csv", ["income", "age", "city", "member"], 20)
    assert len(csv) == 20
    assert set(csv[0]) == {"income", "age", "city", "member"}
    assert any(r["income"] is None for r in bodies.from_file(tmp_path / "d.parquet", None, 50))
    assert bodies.from_file(tmp_path / "d.jsonl", None, 10) == [
        {"income": 1.5, "age": 3}, {"income": None}]
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\n[1]\n')
    with pytest.raises(ValidationError, match=r"bad\.jsonl:2 is not a JSON object"):
        bodies.from_file(tmp_path / "bad.jsonl", None, 10)
    with pytest.raises(NotFoundError):
        bodies.from_file(tmp_path / "missing.jsonl", None, 10)


def test_protected_fields_are_never_replayed_raw() -> None:
    logged = [{"email": "ann@example.com", "ssn": "123-45-6789", "age": 41, "name": "Ann"}]
    protected = {"email": "hash", "ssn": "drop", "name": "mask"}
    schema = {"features": [{"name": "age", "dtype": "int"}, {"name": "email", "dtype": "str"}]}
    clean = bodies.scrub(logged, protected, bodies.filler(schema, None, seed=3))
    assert clean[0]["age"] == 41
    assert "ssn" not in clean[0]
    assert "name" not in clean[0]
    assert isinstance(clean[0]["email"], str)
    assert clean[0]["email"] != "ann@example.com"
    assert logged[0]["ssn"] == "123-45-6789"  # the input is not changed


def test_privacy_settings_are_read_from_the_project() -> None:
    project: Any = SimpleNamespace(
        privacy={"ssn": "drop", "zip": "keep"},
        models={"m": SimpleNamespace(privacy=SimpleNamespace(
            fields={"email": SimpleNamespace(value="hash")})),
                "pipe": SimpleNamespace(privacy={"phone": "mask"})},
        pipelines=lambda: {"pipe": SimpleNamespace(stages=[SimpleNamespace(model="m")])})
    assert bodies.protected_fields(project, "m") == {"ssn": "drop", "phone": "mask",
                                                     "email": "hash"}
    assert bodies.protected_fields(project, "other") == {"ssn": "drop"}


@pytest.mark.skipif("privacy" not in ProjectFile.model_fields,
                    reason="the project file has no privacy: section yet")
def test_privacy_section_of_a_real_project_file() -> None:
    project = parse_project({"privacy": {"email": "hash"},
                             "models": {"m": {"privacy": {"ssn": "drop", "name": "mask"}}}})
    protected = bodies.protected_fields(project, "m")
    assert protected == {"email": "hash", "ssn": "drop", "name": "mask"}
    logged = [{"email": "ann@example.com", "ssn": "123-45-6789", "name": "Ann", "age": 3}]
    clean = bodies.scrub(logged, protected, lambda name: None)
    assert clean == [{"age": 3}]
