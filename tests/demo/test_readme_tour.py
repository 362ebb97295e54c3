"""The README tour as written: the bad-input example answers what the demo model says,
and the files the tour writes land in demo-project/ (ignored by git)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rampup.registry.artifacts import ArtifactStore
from rampup.registry.registry import Registry
from rampup.registry.schema import InputSchema
from rampup.serving.validation import InputErrors, Validator
from rampup.store import Database
from rampup_demo.data import FEATURES, LABEL, LoanGenerator
from rampup_demo.train import train_model

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
    store = Database.open(f"sqlite:///{tmp_path / 'r.db'}")
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


def _step_commands(step: str) -> list[list[str]]:
    """The ``rampup`` commands of a numbered step of the README's tour, as argv lists."""
    import shlex

    start = README.index(f"**{step}.")
    block = README[README.index("```bash", start) + 7:]
    block = block[:block.index("```")]
    out = []
    for line in block.splitlines():
        command = line.split("#", 1)[0].strip()
        if command.startswith(".venv/bin/rampup "):
            out.append(shlex.split(command)[1:])
    return out


@pytest.mark.slow
def test_the_rollout_step_works_whichever_version_is_live(tmp_path: Path) -> None:
    """Step 4 of the tour, command by command as written, on the demo's project before its
    rollout tour (v1 live) and after it (v2 promoted, v3 rolled back)."""
    from typer.testing import CliRunner

    from rampup.cli import app
    from rampup.config import Settings
    from rampup.rollout.service import Rollouts
    from rampup_demo.runner import MODEL, _register, _train

    commands = _step_commands("4")
    assert [c[2:4] for c in commands] == [["rollout", "status"], ["deploy", "loan-default"],
                                          ["rollout", "status"], ["rollout", "pause"],
                                          ["rollback", "loan-default"]]
    root = tmp_path / "demo-project"
    metrics, _ = _train(root / "data", 0, 400)
    settings = Settings(project_dir=root)
    store = Database.open(settings.resolved_database_url)
    try:
        _register(Registry.from_settings(settings, store), root / "data", metrics)

        def tour() -> list[str]:
            outputs = []
            for argv in commands:
                assert argv[:2] == ["-p", "demo-project"]
                result = CliRunner().invoke(app, ["-p", str(root), *argv[2:]],
                                            env={"COLUMNS": "200"})
                assert result.exit_code == 0, (argv, result.output)
                outputs.append(result.output)
            return outputs

        def live() -> str:
            dep = store.deployments.current_deployment(MODEL)
            assert dep is not None
            (version,) = dep.policy["routes"]
            return str(version)

        assert live() == "v1"  # the demo's start
        out = tour()
        assert "v3" in out[2]
        assert live() == "v1"
        rollouts = Rollouts(store)  # the demo's tour: v2 promoted, v3 rolled back
        rollouts.deploy(MODEL, "v2", actor="demo")
        rollouts.promote(MODEL, actor="demo")
        rollouts.deploy(MODEL, "v3", actor="demo")
        rollouts.rollback(MODEL, actor="demo")
        assert live() == "v2"
        tour()
        assert live() == "v2"
    finally:
        store.close()
