"""Privacy rules: the project file's sections, the protected forms, redaction, and the
registration check that keeps retraining from learning on dropped or hashed inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from rampup.config import Settings
from rampup.errors import ConfigError
from rampup.project import ProjectFile, parse_project
from rampup.registry.registry import Registry
from rampup.registry.schema import Feature, InputSchema
from rampup.security.privacy import Privacy, mask, protected_fields
from rampup.serving.validation import InputErrors, Validator
from rampup.store import Database

HERE = Path(__file__).parent


def test_rules_merge_project_pipeline_and_model_and_keep_lifts() -> None:
    project = parse_project({"privacy": {"ssn": "drop", "email": "hash"},
                             "models": {"m": {"privacy": {"email": "keep", "name": "mask"}},
                                        "n": {}}})
    assert protected_fields(project, "m") == {"ssn": "drop", "name": "mask"}
    assert protected_fields(project, "n") == {"ssn": "drop", "email": "hash"}
    with pytest.raises(ConfigError, match="'keep', 'drop', 'hash' or 'mask'"):
        parse_project({"privacy": {"ssn": "erase"}})


def test_protected_forms() -> None:
    p = Privacy({"m": {"ssn": "drop", "email": "hash", "name": "mask", "n": "mask"}}, b"k1")
    out = p.scrub("m", [{"ssn": "1", "email": "a@b.co", "name": "Ann-Marie Lee", "n": 7,
                         "x": 1}, "free text"])
    assert out[0] == {"email": p.hash("a@b.co"), "name": "A**-M**** L**", "n": "***", "x": 1}
    assert out[1] == "free text"
    assert p.hash("a@b.co") != Privacy({}, b"k2").hash("a@b.co")  # keyed
    assert p.scrub("other", {"ssn": "1"}) == {"ssn": "1"}
    assert mask("ann@mail") == "a***@***"
    assert mask(None) is None


def test_validation_never_quotes_a_protected_value() -> None:
    schema = InputSchema([Feature("name", "str"), Feature("age", "int"),
                          Feature("city", "str", categories=("paris",),
                                  strict_categories=True)])
    v = Validator(schema, protected={"name", "city"})
    with pytest.raises(InputErrors) as info:
        v.validate([{"name": 918273645, "age": "forty", "city": "Springfield-42"}])
    text = repr(info.value.problems)
    assert "918273645" not in text
    assert "Springfield-42" not in text
    assert "forty" in text  # an unprotected field still says what it got
    assert "value not shown" in text


def test_registration_refuses_hashed_inputs_when_retraining_learns_from_the_log(
        tmp_path: Path) -> None:
    def project(log_rows: bool, action: str = "hash") -> ProjectFile:
        return ProjectFile.model_validate({"models": {"people": {
            "privacy": {"email": action},
            "retrain": {"entry_point": "train:fit", "log_rows": log_rows}}}})

    store = Database.open(f"sqlite:///{tmp_path / 'rampup.db'}")
    try:
        settings = Settings(project_dir=tmp_path)
        source = f"{HERE / 'secret_model.py'}:Scorer"
        with pytest.raises(ConfigError) as info:
            Registry.from_settings(settings, store, project(True)).register("people", source)
        assert "'email'" in info.value.message
        assert "retrain.log_rows: false" in (info.value.fix or "")
        assert store.models.list_versions("people") == []
        Registry.from_settings(settings, store, project(True, "mask")).register("people",
                                                                              source)
        Registry.from_settings(settings, store, project(False)).register("people", source)
    finally:
        store.close()
